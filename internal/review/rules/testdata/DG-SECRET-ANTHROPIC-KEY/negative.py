ANTHROPIC_API_KEY = "sk-ant-..."
ANTHROPIC_API_KEY = "sk-ant-api03-short"
ANTHROPIC_API_KEY = os.environ["ANTHROPIC_API_KEY"]
