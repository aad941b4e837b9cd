console.log(user);
console.debug("state", state);
