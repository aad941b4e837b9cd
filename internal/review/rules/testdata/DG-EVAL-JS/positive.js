const result = eval(userInput);
const fn = new Function("a", "b", body);
window.eval(code);
