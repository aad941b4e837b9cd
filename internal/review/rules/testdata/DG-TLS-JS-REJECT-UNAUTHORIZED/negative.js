  rejectUnauthorized: true,
  rejectUnauthorized: process.env.NODE_ENV === "production",
strictSsl: secure ? !!options.rejectUnauthorized : false,
