DISCORD_BOT_TOKEN = os.environ["DISCORD_BOT_TOKEN"]
bot.run("MTEXAMPLES7H01RxfgaqK5vLYG.qmBbYP.9fayepkw7tnhu-7M8oavo0FcSCh1lTZqdwf-rg")
discord_client.run(token)
