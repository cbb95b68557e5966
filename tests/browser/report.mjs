// Opens the report in headless Chromium as a reader would, from a file and with the
// network cut off, and checks that it works offline, shows no console error, renders
// every chart with marks, is accessible (axe-core, headings, named charts, a table
// beside every chart) and photographs it. Started by tests/it/report.rs with:
//   REPORT (the HTML file), CHARTS (the figure ids that must be there, comma
//   separated), SCREENSHOTS (a folder).
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const env = (name) => {
  const value = process.env[name];
  if (!value) { throw new Error(`${name} is not set`); }
  return value;
};
const report = pathToFileURL(resolve(env("REPORT"))).href;
const charts = env("CHARTS").split(",").filter(Boolean);
const shots = env("SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const failures = [];
const check = (ok, what) => {
  if (ok) { console.log(`ok - ${what}`); } else { console.log(`FAIL - ${what}`); failures.push(what); }
};

const profile = mkdtempSync(join(tmpdir(), "attentiond-report-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  // Offline: anything but the file itself is refused, and noted.
  const foreign = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url === report || url.startsWith("data:")) { return route.continue(); }
    foreign.push(url);
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on("console", (message) => { if (message.type() === "error") { errors.push(message.text()); } });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(report, { waitUntil: "load" });

  check(errors.length === 0, `no console errors${errors.length ? ": " + errors.join("; ") : ""}`);
  check(foreign.length === 0, `asks the network for nothing${foreign.length ? ": " + foreign.join(", ") : ""}`);
  check(await page.title() !== "", "the page has a title");
  check(await page.locator("html").getAttribute("lang") === "en", "the page says its language");

  // Headings: one h1, the three questions as h2, and no level skipped.
  const headings = await page.$$eval("h1, h2, h3, h4, h5, h6",
    (all) => all.map((h) => [Number(h.tagName[1]), h.textContent.trim()]));
  check(headings.filter(([level]) => level === 1).length === 1, "one h1");
  for (const question of ["Does attention predict pipeline?", "Which attention converts?", "Attention as marketing's measure"]) {
    check(headings.some(([level, text]) => level === 2 && text === question), `an h2 asks “${question}”`);
  }
  let skipped = false;
  headings.reduce((previous, [level]) => { if (level > previous + 1) { skipped = true; } return level; }, 0);
  check(!skipped, "heading levels never skip");

  // Every chart: an SVG image with a name and a description, marks drawn inside
  // it, a caption, and its numbers in a table.
  const figures = await page.$$eval("figure.chart-figure", (all) => all.map((figure) => {
    const svg = figure.querySelector("svg[role=img]");
    const named = (svg?.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent.trim() || "");
    const box = svg?.getBoundingClientRect();
    const marks = [...(svg?.querySelectorAll(".mark") || [])].filter((mark) => {
      const r = mark.getBoundingClientRect();
      return (r.width > 0 || r.height > 0) && r.left >= box.left - 1 && r.right <= box.right + 1
        && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    });
    const table = figure.querySelector("table");
    return {
      id: figure.id,
      named: named.length === 2 && named.every((text) => text.length > 0),
      marks: marks.length,
      caption: figure.querySelector("figcaption")?.textContent.trim() || "",
      tableRows: table ? table.querySelectorAll("tbody tr").length : 0,
      tableCaption: table?.querySelector("caption")?.textContent.trim() || "",
      headers: table ? table.querySelectorAll("th[scope]").length : 0,
    };
  }));
  for (const id of charts) {
    check(figures.some((f) => f.id === id), `chart ${id} is on the page`);
  }
  for (const f of figures) {
    check(f.named, `${f.id}: the chart is an image named by its title and description`);
    check(f.marks > 0, `${f.id}: ${f.marks} marks drawn inside the chart`);
    check(f.caption.length > 0, `${f.id}: a caption says what to read`);
    check(f.tableRows > 0 && f.tableCaption.length > 0 && f.headers > 0,
      `${f.id}: a table of ${f.tableRows} rows holds the chart's numbers`);
  }

  // axe-core, run inside the page: serious and critical violations fail.
  await page.evaluate(axeSource + "\n;0");
  const results = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const violation of serious) {
    console.log(`  axe ${violation.id} (${violation.impact}): ${violation.help}: ` +
      violation.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
  }
  check(serious.length === 0, "no serious accessibility violations (axe-core)");

  // The tables open for the photograph, so that it shows them too.
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });
  for (const f of figures) {
    await page.locator(`#${f.id}`).screenshot({ path: join(shots, `${f.id}.png`) });
  }
  await page.$$eval("details", (all) => all.forEach((d) => { d.open = true; }));
  await page.screenshot({ path: join(shots, "report-with-tables.png"), fullPage: true });
  console.log(`screenshots in ${shots}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.log(`${failures.length} failed`);
  process.exit(1);
}
console.log("all passed");
