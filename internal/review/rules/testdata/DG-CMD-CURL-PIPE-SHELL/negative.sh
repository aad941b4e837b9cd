curl -fsSL https://example.com/install.sh -o install.sh
curl -s https://api.example.com | jq .name
curl -s https://example.com | shasum -a 256
