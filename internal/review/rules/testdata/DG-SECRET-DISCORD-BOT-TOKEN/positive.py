DISCORD_BOT_TOKEN = "MTEXAMPLES7H01RxfgaqK5vLYG.qmBbYP.9fayepkw7tnhu-7M8oavo0FcSCh1lTZqdwf-rg"
discord_client.run("MTEXAMPLES7H01RxfgaqK5vLYG.qmBbYP.9fayepkw7tnhu-7M8oavo0FcSCh1lTZqdwf-rg")
