const q = "SELECT * FROM users WHERE id = " + req.params.id;
db.query('INSERT INTO logs (msg) VALUES (' + msg + ')');
