hashed = hashlib.md5(password.encode()).hexdigest()
pw_hash = hashlib.sha1(pwd).hexdigest()
