const hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
fetch("https://hooks.slack.com/services/T0EXAMPLE/B0EXAMPLE/EXAMPLEu5TgTqaUZsSjIMaq8", opts);
