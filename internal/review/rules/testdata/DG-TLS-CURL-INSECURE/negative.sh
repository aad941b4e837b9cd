curl -fsSL https://example.com/install.sh -o install.sh
curl --cacert ca.pem https://internal/api
wget https://example.com/file
curl -H "X-Kind: k" https://example.com
# curl -k https://example.com
