// Segment's analytics-node (@segment/analytics-node) sending to the daemon with the
// settings the Segment source's docs give: `host` the daemon's origin, `path` the
// source's batch endpoint. The library resolves `path` against `host`'s origin
// (lib/create-url.js: `new URL(path, host)`), so a path in `host` alone is lost.
// Started by tests/it/senders_segment.rs with: DAEMON, SOURCE, WRITE_KEY.
// Prints one JSON line: the errors the library reported, and what a wrong key got.
import { Analytics } from "@segment/analytics-node";

const daemon = process.env.DAEMON;
const source = process.env.SOURCE;
const writeKey = process.env.WRITE_KEY;
const settings = (key) => ({ writeKey: key, host: daemon, path: `/webhooks/${source}/v1/batch`,
  flushAt: 10, flushInterval: 200, maxRetries: 0 });

const errors = [];
const analytics = new Analytics(settings(writeKey));
analytics.on("error", (error) => errors.push(String(error.reason ?? error.code ?? error)));
analytics.page({ anonymousId: "node-visitor", name: "Pricing",
  properties: { path: "/pricing", url: "https://example.com/pricing" } });
analytics.track({ anonymousId: "node-visitor", event: "Demo Requested", properties: { plan: "team" } });
analytics.identify({ userId: "node-user-1", anonymousId: "node-visitor",
  traits: { email: "noor@example.com", firstName: "Noor", title: "VP Sales", company: "Node Works" } });
analytics.group({ userId: "node-user-1", groupId: "node-works", traits: { name: "Node Works", industry: "Software" } });
await analytics.closeAndFlush({ timeout: 20000 });

const refused = [];
const intruder = new Analytics(settings("not-the-key"));
intruder.on("error", (error) => refused.push(String(error.reason ?? error.code ?? error)));
intruder.track({ anonymousId: "node-intruder", event: "Demo Requested" });
await intruder.closeAndFlush({ timeout: 20000 });

console.log(JSON.stringify({ errors, refused }));
