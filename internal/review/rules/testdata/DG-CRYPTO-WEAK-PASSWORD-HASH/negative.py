digest = hashlib.sha1(data).hexdigest()
hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
