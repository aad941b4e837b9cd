requests.get(url, verify=True)
requests.get(url, verify="/etc/ssl/ca.pem")
verify_signature = False
ctx.verify_mode = ssl.CERT_REQUIRED
if ctx.verify_mode != ssl.CERT_NONE:
def _create_unverified_context(protocol=None):
