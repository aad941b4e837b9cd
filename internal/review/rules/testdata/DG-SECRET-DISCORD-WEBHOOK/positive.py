WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/EXAMPLERsPWyQcACm72wdf6sTjYOE1CeaIME5GfFz4dbHRldopemSc0mjHW2-Gswo10T"
requests.post("https://discordapp.com/api/webhooks/123456789012345678/EXAMPLERsPWyQcACm72wdf6sTjYOE1CeaIME5GfFz4dbHRldopemSc0mjHW2-Gswo10T", json=msg)
