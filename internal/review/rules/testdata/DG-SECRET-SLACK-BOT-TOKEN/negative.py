SLACK_BOT_TOKEN = "xoxb-your-token-here"
SLACK_BOT_TOKEN = os.environ["SLACK_BOT_TOKEN"]
prefix = "xoxb-"
