// A delivery signed by Svix's own library (`svix` on npm, `Webhook.sign`), sent under
// Svix's header names, as Svix delivers. Started by tests/it/senders_payloads.rs with:
// URL, SECRET, MSG_ID, BODY. Prints the status and the answer.
import { Webhook } from "svix";

const { URL: url, SECRET: secret, MSG_ID: msgId, BODY: body } = process.env;
const sentAt = new Date();
const signature = new Webhook(secret).sign(msgId, sentAt, body);
const send = async (payload) => {
  const answer = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "svix-id": msgId,
      "svix-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
      "svix-signature": signature,
    },
    body: payload,
  });
  return { status: answer.status, body: await answer.text() };
};
// The signed body, then another body under the same signature.
const signed = await send(body);
const forged = await send(body.replace("demo_request", "pricing_view"));
console.log(JSON.stringify({ signed, forged }));
