const rows = await db.query(sql`SELECT * FROM users WHERE id = ${id}`);
const msg = `Deleted ${n} rows`;
const q = `SELECT * FROM users WHERE id = $1`;
