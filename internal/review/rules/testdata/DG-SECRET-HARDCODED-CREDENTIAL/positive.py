client_secret = "9f8e7d6c5b4a"
requests.get(url, headers=h, api_key="live-1234-abcd")
settings = {"password": "correct-horse-battery"}
