// analytics.js in headless Chromium, sending to the daemon from a page of another
// origin. The published build (@segment/analytics-next `dist/umd/standalone.js`, the
// file Segment's CDN serves as analytics.min.js) is loaded by Segment's snippet from a
// loopback stand-in for Segment's CDN, which also answers the project settings. The
// page points the library at the daemon with `integrations["Segment.io"].apiHost`, as
// the Segment docs describe. Started by tests/it/senders_segment.rs with:
//   DAEMON (http://127.0.0.1:port), SOURCE (allowed source name), CLOSED (a source
//   that allows no origin), WRITE_KEY, PAGE_PORT, CHROMIUM.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { readFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, basename } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) { throw new Error(`${name} is not set`); }
  return value;
};
const daemon = env("DAEMON");
const source = env("SOURCE");
const closed = env("CLOSED");
const writeKey = env("WRITE_KEY");
const pagePort = Number(env("PAGE_PORT"));
// `localhost` here and `127.0.0.1` for the daemon: two origins, as a site and its
// attentiond are.
const page_origin = `http://localhost:${pagePort}`;
const bundles = join(dirname(createRequire(import.meta.url).resolve("@segment/analytics-next/package.json")), "dist", "umd");

const failures = [];
const check = (ok, what) => {
  if (ok) { console.log(`ok - ${what}`); } else { console.log(`FAIL - ${what}`); failures.push(what); }
};

// The snippet of Segment's docs (connections/sources/catalog/libraries/website/
// javascript/quickstart, snippet 5.2.0), loading analytics.min.js from `cdn`.
const snippet = (cdn, apiHost, strategy) => `
!function(){var i="analytics",analytics=window[i]=window[i]||[];if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{analytics.invoked=!0;analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];analytics.factory=function(e){return function(){if(window[i].initialized)return window[i][e].apply(window[i],arguments);var n=Array.prototype.slice.call(arguments);if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){var c=document.querySelector("link[rel='canonical']");n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})}n.unshift(e);analytics.push(n);return analytics}};for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;t.setAttribute("data-global-segment-analytics-key",i);t.src="${cdn}/analytics.js/v1/" + key + "/analytics.min.js";var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};analytics._writeKey="${writeKey}";analytics._cdn="${cdn}";analytics.SNIPPET_VERSION="5.2.0";
analytics.load("${writeKey}", {integrations: {"Segment.io": {apiHost: "${apiHost}", protocol: "http"${strategy}}}});
}}();`;

// Project settings in the shape Segment's CDN answers them
// (cdn.segment.com/v1/projects/<write key>/settings).
const settings = JSON.stringify({
  integrations: { "Segment.io": { apiKey: writeKey, unbundledIntegrations: [], addBundledMetadata: true,
    maybeBundledConfigIds: {}, versionSettings: { version: "4.4.7", componentTypes: ["browser"] }, apiHost: "api.segment.io/v1" } },
  plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } },
    group: { __default: { enabled: true } } },
  enabledMiddleware: {}, metrics: { sampleRate: 0 }, legacyVideoPluginsEnabled: false, remotePlugins: [],
});

const daemonHost = daemon.replace(/^http:\/\//, "");
const server = createServer((request, response) => {
  const url = new URL(request.url, page_origin);
  const send = (status, type, body) => { response.writeHead(status, { "content-type": type }); response.end(body); };
  if (url.pathname === "/pricing" || url.pathname === "/batched") {
    const batched = url.pathname === "/batched";
    const strategy = batched ? `, deliveryStrategy: {strategy: "batching", config: {size: 3, timeout: 200}}` : "";
    send(200, "text/html", `<!doctype html><html><head><title>Pricing</title><script>${snippet(page_origin, `${daemonHost}/webhooks/${source}/v1`, strategy)}</script></head><body>pricing</body></html>`);
  } else if (url.pathname.startsWith("/analytics.js/v1/")) {
    send(200, "text/javascript", readFileSync(join(bundles, "standalone.js")));
  } else if (url.pathname.startsWith("/analytics-next/bundles/") && existsSync(join(bundles, basename(url.pathname)))) {
    send(200, "text/javascript", readFileSync(join(bundles, basename(url.pathname))));
  } else if (url.pathname === `/v1/projects/${writeKey}/settings`) {
    send(200, "application/json", settings);
  } else {
    send(404, "text/plain", "not found");
  }
});
await new Promise((resolve) => server.listen(pagePort, "127.0.0.1", resolve));

const profile = mkdtempSync(join(tmpdir(), "attentiond-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] || await context.newPage();
  const sent = [];
  page.on("request", (request) => {
    if (request.url().startsWith(daemon)) { sent.push(`${request.method()} ${new URL(request.url()).pathname}`); }
  });
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));

  // One call of each kind, each its own request to its short path.
  await page.goto(`${page_origin}/pricing`);
  await page.waitForFunction(() => window.analytics && window.analytics.initialized === true, null, { timeout: 20000 });
  const delivered = await page.evaluate(async () => {
    const a = window.analytics;
    const results = [];
    const ctx = (c) => ({ type: c.event.type, failed: c.failedDelivery() ? String(c.failedDelivery().reason) : null });
    results.push(ctx(await a.page("Pricing", { path: "/pricing", url: location.href })));
    results.push(ctx(await a.track("Demo Requested", { plan: "team" })));
    results.push(ctx(await a.identify("web-user-1", { email: "lin@example.com", firstName: "Lin", title: "Head of Growth" })));
    results.push(ctx(await a.group("acme-co", { name: "Acme", industry: "Software" })));
    return results;
  });
  check(delivered.length === 4 && delivered.every((d) => d.failed === null), `each call delivered: ${JSON.stringify(delivered)}`);
  for (const path of ["p", "t", "i", "g"]) {
    check(sent.includes(`OPTIONS /webhooks/${source}/v1/${path}`) || sent.includes(`POST /webhooks/${source}/v1/${path}`),
      `posted to /webhooks/${source}/v1/${path}`);
  }

  // A page of this origin may not send to a source that allows no origin: the
  // browser refuses to let it read the answer.
  const refused = await page.evaluate(async ({ daemon, closed, writeKey }) => {
    try {
      const answer = await fetch(`${daemon}/webhooks/${closed}/v1/t`, {
        method: "POST",
        headers: { "Content-Type": "text/plain", Authorization: `Basic ${btoa(writeKey + ":")}` },
        body: JSON.stringify({ type: "track", event: "Demo Requested", anonymousId: "closed-visitor",
          messageId: "closed-1", timestamp: new Date().toISOString() }),
      });
      return `answered ${answer.status}`;
    } catch (error) {
      return `blocked: ${error.name}`;
    }
  }, { daemon, closed, writeKey });
  check(refused.startsWith("blocked"), `a source without allowed_origins is out of reach (${refused})`);

  // The batching delivery strategy posts to `/b` under the apiHost.
  sent.length = 0;
  await page.goto(`${page_origin}/batched`);
  await page.waitForFunction(() => window.analytics && window.analytics.initialized === true, null, { timeout: 20000 });
  await page.evaluate(async () => {
    const a = window.analytics;
    await a.identify("web-user-2", { email: "kai@example.com" });
    await a.page("Pricing", { path: "/pricing" });
    await a.track("Demo Requested");
  });
  const deadline = Date.now() + 10000;
  while (!sent.includes(`POST /webhooks/${source}/v1/b`) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check(sent.includes(`POST /webhooks/${source}/v1/b`), `batched to /webhooks/${source}/v1/b (${sent.join(", ")})`);
  await new Promise((resolve) => setTimeout(resolve, 500));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  server.close();
}
console.log(failures.length === 0 ? "all passed" : `${failures.length} failed`);
process.exit(failures.length === 0 ? 0 : 1);
