pickle.dump(obj, f)
data = json.loads(text)
blob = pickle.dumps(obj)
