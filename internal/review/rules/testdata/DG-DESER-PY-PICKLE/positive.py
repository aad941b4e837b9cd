obj = pickle.load(f)
obj = pickle.loads(data)
code = marshal.loads(blob)
df = pd.read_pickle(path)
