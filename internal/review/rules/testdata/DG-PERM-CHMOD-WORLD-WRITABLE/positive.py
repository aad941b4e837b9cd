os.chmod(path, 0o777)
os.chmod(path, stat.S_IRWXU | stat.S_IWOTH)
