chmod 755 script.sh
chmod +x script.sh
chmod 1777 /tmp/shared
chmod u+w file
chmod 0644 config.yml
chmod +w file
