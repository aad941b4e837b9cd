aws_access_key_id = "AKIAIOSFODNN7EXAMPL"
aws_access_key_id = "akiaiosfodnn7example"
name = "XAKIAIOSFODNN7EXAMPLE"
tz = "ASIA/Tokyo"
aws_access_key_id = os.environ["AWS_ACCESS_KEY_ID"]
