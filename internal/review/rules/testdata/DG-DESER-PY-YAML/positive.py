data = yaml.load(f)
cfg = yaml.load(text, Loader=yaml.Loader)
docs = yaml.unsafe_load(stream)
obj = yaml.load(s, Loader=yaml.UnsafeLoader)
