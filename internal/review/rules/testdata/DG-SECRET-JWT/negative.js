const header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
const token = jwt.sign(payload, key);
const t = "eyJhbGciOiJub25lIn0.e30.";
