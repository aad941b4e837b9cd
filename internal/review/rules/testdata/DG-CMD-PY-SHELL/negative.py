subprocess.run(["git", "clone", url])
subprocess.run("make build", shell=True)
os.system("make clean")
subprocess.run(f"git clone {url}".split())
