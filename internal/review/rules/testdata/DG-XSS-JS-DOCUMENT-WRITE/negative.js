document.body.append(node);
// document.write(x)
