client = Anthropic(api_key="sk-ant-api03-EXAMPLEWJUA058lEdkk6JdhZ2OcTiSJHVnk4P7mzi-4KF3pgDLdCiFW84jX3_L8s0qpNUq0-kzE6LogpOzA70GYu-4GaiAA")
task_id = "task-EXAMPLEtKTjAjaFO16Hd8Hp1Jf7tSgtRa1eePdjJYM6mgv4I"
OPENAI_API_KEY = "sk-..."
OPENAI_API_KEY = os.environ["OPENAI_API_KEY"]
label = "disk-EXAMPLEV7ygR0ASuT1llqf3JcieWVjwiYd7U3MsPkYO2xaCU"
