chmod 777 /var/www/uploads
chmod -R 0777 build/
chmod o+w /etc/app.conf
chmod a+rwx script.sh
sudo chmod 666 /dev/ttyUSB0
