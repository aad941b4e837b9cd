const delay = Math.random() * 1000;
const token = crypto.randomBytes(32).toString("hex");
