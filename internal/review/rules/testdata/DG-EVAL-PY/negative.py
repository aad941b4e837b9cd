value = ast.literal_eval(text)
def eval(self, x):
model.eval()
    def exec(self):
# eval(x)
    """Run the code with exec() and return."""
