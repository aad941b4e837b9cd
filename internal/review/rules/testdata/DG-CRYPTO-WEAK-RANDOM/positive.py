reset_token = "".join(random.choice(alphabet) for _ in range(32))
