cursor.execute("SELECT * FROM users WHERE id = %s", (user_id,))
# query = "DELETE FROM items WHERE id = " + x
