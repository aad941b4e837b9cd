debugger;
  debugger
if (x) { debugger; }
