fd, path = tempfile.mkstemp()
with tempfile.NamedTemporaryFile() as f:
