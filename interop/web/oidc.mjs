// A stock OpenID Connect RP library (openid-client, by panva) logs in through a running
// `jpki serve --sandbox`, the user's side driven in Debian's Chromium:
//   node oidc.mjs BASE_URL OUT_DIR TENANT_API_KEY PERSON_NAME
// The RP registers a private_key_jwt client with a key of its own, discovers the provider, sends the
// browser to authorize (PKCE S256, state, nonce), where the authorization page is checked (strict CSP,
// its language, the switch to the other, accessibility by axe-core) and the sandbox test person picked;
// then the code is redeemed (openid-client checks the RFC 9207 iss, the ID token and its nonce), the
// userinfo read and the tokens refreshed. A declined login and a refused request end as the standard
// errors; the error page is checked too. Screenshots go to OUT_DIR. Prints a JSON report; exits 1 when
// anything is wrong.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import * as oidc from "openid-client";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, out, apiKey, personName] = process.argv.slice(2);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const redirectUri = "http://127.0.0.1:9/callback";
const scope = "openid name address birthdate gender";
const problems = [];
const screenshots = [];
const report = { problems, screenshots };
const expect = (ok, what) => ok || problems.push(what);

// The RP's key pair and its registration.
const { publicKey, privateKey } = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
const jwk = { ...(await crypto.subtle.exportKey("jwk", publicKey)), kid: "rp-1", alg: "ES256", use: "sig" };
delete jwk.key_ops;
delete jwk.ext;
const registered = await fetch(`${base}/v1/oidc/clients`, {
  method: "POST",
  headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
  body: JSON.stringify({ client_name: "openid-client RP", redirect_uris: [redirectUri], scope, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } }),
}).then((r) => r.json());
const config = await oidc.discovery(new URL(`${base}/api/realms/main`), registered.client_id, undefined, oidc.PrivateKeyJwt({ key: privateKey, kid: "rp-1" }), {
  execute: [oidc.allowInsecureRequests],
});

/// A fresh authorization request: its URL and what the RP keeps to check the answer.
async function authorization(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce(), idTokenExpected: true };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

/// A browser context whose navigations to the RP's redirect URI are caught (nothing listens there).
async function browserAt(browser, options = {}) {
  const context = await browser.newContext(options);
  const callbacks = [];
  await context.route(`${redirectUri}**`, (route) => {
    callbacks.push(route.request().url());
    return route.fulfill({ status: 200, contentType: "text/plain", body: "callback" });
  });
  const page = await context.newPage();
  const violations = [];
  page.on("console", (m) => /Content Security Policy|Refused to/.test(m.text()) && violations.push(m.text()));
  return { context, page, callbacks, violations };
}

async function shot(page, name) {
  const file = path.join(out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  screenshots.push(file);
}

async function accessible(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }));
  for (const v of result.violations) problems.push(`${name}: accessibility: ${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
try {
  // Login: the page in Japanese (ui_locales), switched to English, the person picked.
  const { url, checks } = await authorization({ ui_locales: "ja" });
  const { context, page, callbacks, violations } = await browserAt(browser, { viewport: { width: 1280, height: 900 } });
  const response = await page.goto(url.href, { waitUntil: "load" });
  expect(response.status() === 200, `the authorization page answered ${response.status()}`);
  const csp = response.headers()["content-security-policy"] ?? "";
  expect(csp.includes("default-src 'none'") && csp.includes("form-action 'self' http://127.0.0.1:9") && !csp.includes("script-src"), `the page's CSP: ${csp}`);
  expect((await page.evaluate(() => document.documentElement.lang)) === "ja", "the page is not in the Japanese ui_locales asked for");
  expect((await page.textContent("h1")).includes("マイナンバーカード"), "the Japanese heading is missing");
  expect((await page.textContent("main")).includes(personName), `the picker does not offer ${personName}`);
  expect(violations.length === 0, `the page broke its own CSP: ${violations.join("; ")}`);
  await page.addScriptTag({ content: "window.__injected = true;" }).catch(() => {});
  expect(!(await page.evaluate(() => window.__injected === true)), "an injected inline script ran (CSP not enforced)");
  violations.length = 0;
  await shot(page, "authorize-ja-desktop");
  await page.setViewportSize({ width: 390, height: 844 });
  expect(!(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)), "the authorization page is wider than a phone");
  await shot(page, "authorize-ja-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.click("a[hreflang=en]");
  await page.waitForLoadState("load");
  expect((await page.evaluate(() => document.documentElement.lang)) === "en", "the language switch did not switch to English");
  expect((await page.textContent("h1")).includes("My Number Card"), "the English heading is missing");
  await shot(page, "authorize-en-desktop");
  // The radio buttons are reached by their labels, as a screen reader names them.
  await page.getByLabel(personName, { exact: false }).check();
  await page.getByLabel("Normal", { exact: false }).check();
  await page.getByRole("button", { name: "Answer as this person" }).click();
  await page.waitForURL(`${redirectUri}**`);
  expect(violations.length === 0, `the language switch or the answer broke the CSP: ${violations.join("; ")}`);
  await context.close();
  expect(callbacks.length === 1, `the browser reached the RP ${callbacks.length} times`);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callbacks[0]), checks);
  const claims = tokens.claims();
  expect(claims.acr === "aal3" && claims.nonce === checks.expectedNonce, `ID token claims: ${JSON.stringify(claims)}`);
  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  expect(info.name === personName && typeof info.address?.formatted === "string" && /^\d{4}-\d{2}-\d{2}$/.test(info.birthdate ?? ""), `userinfo: ${JSON.stringify(info)}`);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  expect(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, "the refresh token did not rotate");
  report.login = { sub: claims.sub, acr: claims.acr, amr: claims.amr, userinfo: info, refreshed: Boolean(refreshed.access_token) };

  // The same page, for axe-core (which the page's own CSP keeps out).
  {
    const { url } = await authorization();
    const { context, page } = await browserAt(browser, { bypassCSP: true });
    await page.goto(url.href, { waitUntil: "load" });
    await accessible(page, "authorization page");
    await context.close();
  }

  // Declined: access_denied, which openid-client reports as the authorization server's error.
  {
    const { url, checks } = await authorization();
    const { context, page, callbacks } = await browserAt(browser);
    await page.goto(url.href, { waitUntil: "load" });
    await page.getByRole("button", { name: "Decline" }).click();
    await page.waitForURL(`${redirectUri}**`);
    await context.close();
    const refused = await oidc.authorizationCodeGrant(config, new URL(callbacks[0]), checks).then(() => null, (e) => e);
    expect(refused?.error === "access_denied", `a declined login: ${refused}`);
    report.declined = refused?.error;
  }

  // A request naming a redirect URI not registered: the error page, never a redirect.
  {
    const { url } = await authorization({ redirect_uri: "http://127.0.0.1:9/elsewhere" });
    for (const [lang, bypassCSP] of [["en", false], ["ja", false], ["en", true]]) {
      const { context, page, callbacks } = await browserAt(browser, { bypassCSP, locale: lang, extraHTTPHeaders: { "accept-language": lang } });
      const response = await page.goto(url.href, { waitUntil: "load" });
      expect(response.status() === 400 && callbacks.length === 0, `the refused request answered ${response.status()}, ${callbacks.length} redirects`);
      expect((await page.evaluate(() => document.documentElement.lang)) === lang, `the error page is not in ${lang}`);
      expect((await page.textContent("[role=alert]")).includes("not registered"), "the error page does not say what is wrong");
      if (bypassCSP) await accessible(page, "error page");
      else await shot(page, `error-${lang}`);
      await context.close();
    }
  }
} catch (e) {
  problems.push(`failed: ${e.stack ?? e}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(problems.length ? 1 : 0);
