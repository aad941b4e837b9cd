db.query("SELECT * FROM users WHERE id = $1", [id]);
const msg = "Deleted " + n + " rows";
