cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))
print(f"selected {n} rows")
cursor.execute("SELECT * FROM users WHERE id = :id", {"id": uid})
