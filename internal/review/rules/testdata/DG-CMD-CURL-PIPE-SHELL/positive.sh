curl -fsSL https://example.com/install.sh | sh
curl -sSL https://get.example.com | sudo bash
wget -qO- https://example.com/setup | bash -s -- --yes
