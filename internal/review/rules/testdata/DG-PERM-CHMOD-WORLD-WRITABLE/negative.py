os.chmod(path, 0o644)
os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
os.chmod(tmp_path, 0o666 & ~umask)
