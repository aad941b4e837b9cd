const v = JSON.parse(text);
await page.$eval("#id", el => el.textContent);
const evaluate = (x) => x * 2;
// eval(code)
model.eval();
