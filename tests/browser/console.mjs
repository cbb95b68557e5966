// Drives the attentiond console in headless Chromium, as an operator would: sign in,
// filter people, open a person and their chart, open an account, retry a dead letter
// as admin, be refused as viewer, sign out. Every page is checked with axe-core and
// for console errors, and photographed. Started by tests/it/console_browser.rs with:
//   BASE_URL, ADMIN_TOKEN, VIEWER_TOKEN, PERSON_EMAIL, PERSON_MARKS, ACCOUNT_KEY,
//   SCREENSHOTS (a folder).
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) { throw new Error(`${name} is not set`); }
  return value;
};
const base = env("BASE_URL");
const shots = env("SCREENSHOTS");
const personEmail = env("PERSON_EMAIL");
const personMarks = Number(env("PERSON_MARKS"));
const accountKey = env("ACCOUNT_KEY");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const failures = [];
const check = (ok, what) => {
  if (ok) { console.log(`ok - ${what}`); } else { console.log(`FAIL - ${what}`); failures.push(what); }
};

const profile = mkdtempSync(join(tmpdir(), "attentiond-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] || await context.newPage();
const consoleErrors = [];
page.on("console", (message) => {
  if (message.type() === "error") { consoleErrors.push(`${page.url()}: ${message.text()}`); }
});
page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
// Nothing but the daemon may be asked for anything: the console works offline.
const foreign = [];
page.on("request", (request) => {
  if (!request.url().startsWith(base) && !request.url().startsWith("data:")) { foreign.push(request.url()); }
});

/// axe-core, run inside the page: serious and critical violations fail.
async function accessible(name) {
  await page.evaluate(axeSource + "\n;0");
  const results = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const violation of serious) {
    console.log(`  axe ${violation.id} (${violation.impact}) on ${name}: ${violation.help}: ` +
      violation.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
  }
  check(serious.length === 0, `${name}: no serious accessibility violations`);
}

/// A link of the console's own navigation.
const nav = (name) => page.getByRole("navigation", { name: "Console" }).getByRole("link", { name, exact: true });

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function visit(name) {
  await accessible(name);
  await shot(name);
}

async function signIn(token) {
  await page.goto(`${base}/`);
  check(page.url().startsWith(`${base}/sign-in`), "a visitor without a session is sent to sign in");
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/`);
}

try {
  // Sign in as admin.
  await page.goto(`${base}/people`);
  check(page.url().startsWith(`${base}/sign-in`), "the people page needs a session");
  await visit("sign-in");
  await page.getByLabel("Token").fill("not-a-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  check((await page.getByRole("alert").textContent()).includes("not the admin token"), "a wrong token is told so");
  await signIn(env("ADMIN_TOKEN"));
  check(await page.getByRole("heading", { name: "Overview" }).isVisible(), "the overview opens after sign-in");
  check((await page.locator("#sources-heading + table").textContent()).includes("site"), "the overview lists the site source");
  await visit("overview");

  // People: filter, then search.
  await nav("People").click();
  const allRows = await page.locator("table.list tbody tr").count();
  check(allRows >= 3, `the people list shows everyone (${allRows})`);
  await page.getByLabel("Trend").selectOption("rising");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/trend=rising/);
  const trends = await page.locator("table.list tbody tr td:nth-child(4)").allTextContents();
  check(trends.length > 0 && trends.every((t) => t.trim() === "rising"), `the trend filter keeps only rising people (${trends.join(",")})`);
  check(trends.length < allRows, "the filter leaves someone out");
  await page.getByRole("link", { name: /Score/ }).click();
  await page.waitForURL(/order=asc/);
  const ascending = (await page.locator("table.list tbody .score").allTextContents()).map(Number);
  check(ascending.every((s, i) => i === 0 || ascending[i - 1] <= s), `sorting by score turns the order (${ascending})`);
  await visit("people");
  await page.getByLabel("Search").fill(personEmail.slice(0, 4));
  await page.getByLabel("Trend").selectOption("");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/q=/);
  await page.locator("table.list tbody tr th a").first().click();

  // The person and their chart, drawn from the touches sent.
  await page.waitForURL(/\/people\/c_/);
  check((await page.locator("main").textContent()).includes(personEmail), "the person page names the person");
  const marks = page.locator(".chart .mark");
  check(await marks.count() === personMarks, `the chart marks each touch sent (${await marks.count()} of ${personMarks})`);
  check((await page.locator(".chart path.curve").getAttribute("d")).split("L").length > 100, "the chart draws the decaying curve");
  await marks.last().hover();
  const tip = page.locator(".chart-tip");
  await tip.waitFor({ state: "visible" });
  check(/weight .*score \d+ after/.test(await tip.textContent()), "hovering a mark tells the touch");
  await marks.first().focus();
  check(await tip.isVisible(), "a mark reached by keyboard tells it too");
  check((await page.locator("#reasons-heading + ul").textContent()).length > 0, "the reasons are shown");
  check((await page.locator("pre.explain").textContent()).includes("Scoring version"), "the explanation is shown");
  await visit("person");
  await page.screenshot({ path: join(shots, "person-top.png"), clip: { x: 0, y: 0, width: 1280, height: 1000 } });

  // The account and its buying group.
  await page.locator(`a[href="/accounts/${encodeURIComponent(accountKey)}"]`).first().click();
  await page.waitForURL(/\/accounts\//);
  check((await page.locator("#members-heading + table").textContent()).includes(personEmail), "the account lists the person among its members");
  check(await page.locator(".chart path.curve").count() === 1, "the account has its chart");
  await visit("account");
  await nav("Accounts").click();
  check(await page.locator("table.list tbody tr").count() >= 2, "the leaderboard lists the accounts");
  await visit("accounts");

  // Dead letters: retry as admin.
  await nav("Dead letters").click();
  const retry = page.getByRole("button", { name: /^Retry/ }).first();
  check(await retry.isVisible(), "an admin can retry a dead letter");
  await visit("dead-letters");
  await retry.click();
  await page.waitForURL(/done=retried/);
  check((await page.getByRole("status").first().textContent()).includes("queued again"), "the retried letter is queued again");
  await nav("Scoring").click();
  const scoring = await page.locator("main").textContent();
  check(scoring.includes("the configuration's [scoring]"), "the scoring page says the configuration's scoring is in force");
  check(/Active scoring version\s*[0-9a-f]{12}/.test(scoring), "the scoring page shows the active scoring version");
  check(scoring.includes("No learned scoring is in force"), "the scoring page says no learned scoring is in force");
  await visit("scoring");
  // The report opens from the scoring page, under its own policy, with no console error.
  await page.getByRole("link", { name: /^The report/ }).click();
  await page.waitForURL(/\/scoring\/report$/);
  check((await page.locator("h1").first().textContent()) === "Attention and pipeline", "the report opens from the scoring page");
  check(await page.locator("svg").count() > 0, "the report draws its charts");
  await accessible("scoring-report");
  await page.goBack();

  // Sign out: the pages close again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in/);
  await page.goto(`${base}/dead-letters`);
  check(page.url().startsWith(`${base}/sign-in`), "after signing out the pages need a session again");

  // A viewer looks, and is refused any change.
  await signIn(env("VIEWER_TOKEN"));
  await page.goto(`${base}/dead-letters`);
  check(await page.getByRole("button", { name: /^Retry/ }).count() === 0, "a viewer is offered no retry");
  // The page offers no form, so one is made as a forger would, CSRF token and all.
  const answer = page.waitForResponse((response) => response.url().includes("/dead-letters/1/retry"));
  await page.evaluate(() => {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/dead-letters/1/retry";
    const csrf = document.createElement("input");
    csrf.name = "csrf";
    csrf.value = document.querySelector("input[name=csrf]").value;
    form.append(csrf);
    document.body.append(form);
    form.submit();
  });
  const refused = (await answer).status();
  await page.waitForURL(`${base}/dead-letters/1/retry`);
  await page.waitForLoadState("load");
  await page.goto(`${base}/dead-letters`);
  check(refused === 403, `a viewer's change is refused (${refused})`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in/);
} catch (error) {
  failures.push(`the walk stopped: ${error.stack || error}`);
  console.log(`FAIL - the walk stopped at ${page.url()}: ${error.stack || error}`);
  await shot("failure").catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

// A refused viewer change logs a 403 in the console: that one is expected.
const unexpected = consoleErrors.filter((e) => !e.includes("403"));
check(unexpected.length === 0, `no console errors (${unexpected.join(" | ")})`);
check(foreign.length === 0, `nothing is fetched from elsewhere (${foreign.join(", ")})`);
console.log(`${failures.length === 0 ? "all passed" : `${failures.length} failed`}; screenshots in ${shots}`);
process.exit(failures.length === 0 ? 0 : 1);
