// Loads each page of a running openjpki server in Debian's Chromium and reports what is wrong:
//   node check.mjs BASE_URL OUT_DIR PATH...
// For each page, at a desktop and a phone width: HTTP 200, the strict Content-Security-Policy header
// and no violation of it, an injected script blocked, the stylesheet applied, no failed request, a
// full-page screenshot in OUT_DIR; then, in a context that lets axe-core in (the page itself runs no
// script), the WCAG 2 A/AA and best-practice rules, the page in the language its ?lang= asks for, both
// languages marked (en and ja: the language switch names each in itself), and every same-origin link
// answering. Prints a JSON report; exits 1 when anything is wrong.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, out, ...pages] = process.argv.slice(2);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
const problems = [];
const screenshots = [];
const viewports = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };

try {
  for (const page_path of pages) {
    const slug = page_path.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "") || "index";
    for (const [name, viewport] of Object.entries(viewports)) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const blocked = [];
      page.on("console", (m) => /Content Security Policy|Refused to/.test(m.text()) && blocked.push(m.text()));
      page.on("pageerror", (e) => problems.push(`${page_path} (${name}): script error: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`${page_path} (${name}): request failed: ${r.url()}`));
      const response = await page.goto(base + page_path, { waitUntil: "load" });
      if (response.status() !== 200) problems.push(`${page_path}: HTTP ${response.status()}`);
      const csp = response.headers()["content-security-policy"] ?? "";
      if (!csp.includes("default-src 'none'")) problems.push(`${page_path}: no strict Content-Security-Policy (${csp})`);
      const styled = await page.evaluate(() => [...document.styleSheets].some((s) => s.cssRules.length > 0));
      if (!styled) problems.push(`${page_path} (${name}): the stylesheet did not apply`);
      if (blocked.length) problems.push(`${page_path} (${name}): the page broke its own CSP: ${blocked.join("; ")}`);
      // The CSP must stop a script that made its way into the page.
      await page.addScriptTag({ content: "window.__injected = true;" }).catch(() => {});
      if (await page.evaluate(() => window.__injected === true)) problems.push(`${page_path}: an injected inline script ran (CSP not enforced)`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (overflow) problems.push(`${page_path} (${name}): the page is wider than the ${viewport.width}px viewport`);
      const file = path.join(out, `${slug}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
      await context.close();
    }

    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + page_path, { waitUntil: "load" });
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }));
    for (const v of result.violations) {
      problems.push(`${page_path}: accessibility: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
    const asked = new URL(base + page_path).searchParams.get("lang");
    const served = await page.evaluate(() => document.documentElement.lang);
    if (asked && served !== asked) problems.push(`${page_path}: served in ${served}, not the ${asked} asked for`);
    const langs = await page.evaluate(() => [...document.querySelectorAll("[lang]")].map((e) => e.lang));
    for (const lang of ["en", "ja"]) if (!langs.includes(lang)) problems.push(`${page_path}: no content marked lang="${lang}"`);
    const links = await page.evaluate(() => [...document.querySelectorAll("a[href]")].map((a) => a.href));
    for (const link of links.filter((l) => l.startsWith(base))) {
      const answer = await context.request.get(link);
      if (answer.status() >= 400) problems.push(`${page_path}: link ${link} answers ${answer.status()}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ problems, screenshots }, null, 2));
process.exit(problems.length ? 1 : 0);
