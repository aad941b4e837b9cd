app.run(debug=False)
app.run(debug=os.environ.get("FLASK_DEBUG") == "1")
logging.basicConfig(level=logging.DEBUG)
