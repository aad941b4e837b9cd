const etag = crypto.createHash("md5").update(body).digest("hex");
