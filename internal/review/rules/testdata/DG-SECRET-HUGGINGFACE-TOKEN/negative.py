hf_EXAMPLEzHdEJwOrurZzjXFyZAQiHdXrvr 
token = "hf_${TOKEN}"
xhf_EXAMPLEoGopCTycClXuIFSUvaLMIyiXhgR
path = hf_hub_download(repo_id="org/model", filename="config.json")
