path = tempfile.mktemp()
name = tempfile.mktemp(suffix=".txt")
