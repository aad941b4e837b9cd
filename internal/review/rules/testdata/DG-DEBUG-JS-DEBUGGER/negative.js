// debugger;
const debuggerEnabled = true;
log("debugger attached");
