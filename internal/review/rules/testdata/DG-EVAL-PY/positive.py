result = eval(expression)
exec(code, namespace)
