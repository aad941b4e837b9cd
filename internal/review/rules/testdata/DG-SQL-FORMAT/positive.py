cursor.execute(f"SELECT * FROM users WHERE name = '{name}'")
cursor.execute("SELECT * FROM users WHERE id = %s" % user_id)
cursor.execute("DELETE FROM items WHERE id = {}".format(item_id))
q = f"UPDATE accounts SET balance = {amount} WHERE id = {uid}"
