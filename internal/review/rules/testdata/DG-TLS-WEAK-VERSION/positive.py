ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
ctx.minimum_version = ssl.TLSVersion.TLSv1_1
