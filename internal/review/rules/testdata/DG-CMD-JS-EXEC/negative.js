execFile("git", ["checkout", branch], cb);
const m = /ab+c/.exec(`${input}`);
exec("git status", cb);
const r = pattern.exec(text + suffix);
