const rows = await db.query(`SELECT * FROM users WHERE id = ${req.params.id}`);
const q = `DELETE FROM sessions WHERE token = '${token}'`;
