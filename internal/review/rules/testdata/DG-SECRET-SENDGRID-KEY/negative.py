SENDGRID_API_KEY = "SG.xxxxx"
region = "SG.north"
