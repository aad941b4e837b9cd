ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
if value == TLSVersion.SSLv3:
ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1_2)
