console.error("failed", err);
logger.log("x");
// console.log(x)
