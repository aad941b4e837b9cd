password = getpass.getpass()
password = request.form["password"]
api_key = os.environ.get("API_KEY")
password = "{{ db_password }}"
secret = "abc"
