token = secrets.token_urlsafe(32)
sample = random.choice(items)
