const k = "key-6af67442931a4c4555e1db7e9e779f6";
const id = "monkey-bee9cd56481fb339258e4d27eb0d1cb7";
const name = "api-key-value";
