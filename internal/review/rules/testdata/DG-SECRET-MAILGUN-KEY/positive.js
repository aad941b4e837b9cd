const mailgunKey = "key-9cda1a2a3c984a24b9c429ca42db0b95";
auth: { user: "api", pass: "key-9cda1a2a3c984a24b9c429ca42db0b95" },
