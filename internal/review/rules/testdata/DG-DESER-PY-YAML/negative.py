data = yaml.safe_load(f)
cfg = yaml.load(text, Loader=yaml.SafeLoader)
data = yaml.load(
yaml.dump(obj)
cfg = yaml.load(text, Loader=yaml.CSafeLoader)
