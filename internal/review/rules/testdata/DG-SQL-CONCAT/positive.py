cursor.execute("SELECT * FROM users WHERE name = '" + name + "'")
query = "DELETE FROM items WHERE id = " + str(item_id)
