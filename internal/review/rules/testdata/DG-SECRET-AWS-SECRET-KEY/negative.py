aws_secret_access_key = os.environ["AWS_SECRET_ACCESS_KEY"]
aws_secret_access_key = "${AWS_SECRET}"
aws_secret_access_key = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
aws_region = "us-east-1"
aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"
