const docs = "https://api.slack.com/messaging/webhooks";
const base = "https://hooks.slack.com/services/";
const hook = process.env.SLACK_WEBHOOK_URL;
