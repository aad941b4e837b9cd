WEBHOOK = "https://discord.com/api/webhooks/{id}/{token}"
INVITE = "https://discord.com/invite/abcdef"
WEBHOOK = os.environ["DISCORD_WEBHOOK"]
