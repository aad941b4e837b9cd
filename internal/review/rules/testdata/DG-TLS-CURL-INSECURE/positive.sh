curl -k https://example.com/install.tar.gz -o install.tar.gz
curl --insecure -fsSL https://internal/api
curl -fsSLk https://example.com/x
wget --no-check-certificate https://example.com/file
