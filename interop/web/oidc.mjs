// A stock OpenID Connect RP library (openid-client, by panva) logs in through a running
// `jpki serve --sandbox`, the user's side driven in Debian's Chromium:
//   node oidc.mjs BASE_URL OUT_DIR TENANT_API_KEY PERSON_NAME JPKI CARD_DIR PHONE_DIR
// The RP registers a private_key_jwt client with a key of its own, discovers the provider, sends the
// browser to authorize (PKCE S256, state, nonce), where the authorization page is checked (strict CSP,
// its language, the switch to the other, accessibility by axe-core) and the sandbox test person picked;
// then the code is redeemed (openid-client checks the RFC 9207 iss, the ID token and its nonce), the
// userinfo read and the tokens refreshed. A declined login and a refused request end as the standard
// errors; the error page is checked too. Then the companion app: logins with the card and the phone
// (`JPKI app approve` given the QR code's text from the page, which moves on by itself), and a sign
// transaction (a client-credentials token creates it; the user signs in the app; the result's
// signature is checked by openssl against the returned certificate). Screenshots go to OUT_DIR.
// Prints a JSON report; exits 1 when anything is wrong.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { execFile as execFileCallback } from "node:child_process";
import { promisify } from "node:util";
import http from "node:http";
import { chromium } from "playwright-core";
import * as oidc from "openid-client";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [base, out, apiKey, personName, jpki, cardDir, phoneDir] = process.argv.slice(2);
const execFile = promisify(execFileCallback);
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
// The RP's redirect URI: a listener that records what arrives (a browser follows a redirect the
// page's reload got to a real server only).
const callbacks = [];
const listener = http.createServer((request, response) => {
  if (request.url.startsWith("/callback")) callbacks.push(new URL(request.url, redirectBase).href);
  response.writeHead(200, { "content-type": "text/plain" }).end("callback");
});
await new Promise((resolve) => listener.listen(0, "127.0.0.1", resolve));
const redirectBase = `http://127.0.0.1:${listener.address().port}`;
const redirectUri = `${redirectBase}/callback`;
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
  body: JSON.stringify({ client_name: "openid-client RP", redirect_uris: [redirectUri], scope: `${scope} sign`, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } }),
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

/// A browser context, and the redirects to the RP that arrive from it (one flow at a time).
async function browserAt(browser, options = {}) {
  const context = await browser.newContext(options);
  callbacks.length = 0;
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

/// A login answered in the companion app: the page's app view, its QR code and text, `jpki app
/// approve` with `source` and `pins`, the page moving on to the RP by itself; the tokens.
async function viaApp(browser, extra, source, pins, shotName = null) {
  const { url, checks } = await authorization(extra);
  const { context, page, callbacks, violations } = await browserAt(browser, { viewport: { width: 1280, height: 1000 } });
  await page.goto(url.href, { waitUntil: "load" });
  await page.click("a[href*='/app?lang=']");
  await page.waitForLoadState("load");
  expect(await page.evaluate(() => document.querySelector("figure img")?.naturalWidth > 0), `${shotName}: the QR code image did not load`);
  const payload = await page.inputValue("#payload");
  expect(payload.includes("/protocol/openid-connect/app#transaction="), `${shotName}: the QR text: ${payload}`);
  if (shotName) await shot(page, shotName);
  const answered = await execFile(jpki, ["app", "approve", payload, ...source, "--approve", ...pins]);
  expect(answered.stdout.includes("approved"), `${shotName}: jpki app approve: ${answered.stdout}${answered.stderr}`);
  await page.waitForURL(`${redirectUri}**`, { timeout: 20000 });
  expect(violations.length === 0, `${shotName}: the app view broke its CSP: ${violations.join("; ")}`);
  await context.close();
  return oidc.authorizationCodeGrant(config, new URL(callbacks[0]), checks);
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
try {
  // Login: the page in Japanese (ui_locales), switched to English, the person picked.
  const { url, checks } = await authorization({ ui_locales: "ja" });
  const { context, page, callbacks, violations } = await browserAt(browser, { viewport: { width: 1280, height: 900 } });
  const response = await page.goto(url.href, { waitUntil: "load" });
  expect(response.status() === 200, `the authorization page answered ${response.status()}`);
  const csp = response.headers()["content-security-policy"] ?? "";
  expect(csp.includes("default-src 'none'") && csp.includes(`form-action 'self' ${redirectBase}`) && !csp.includes("script-src"), `the page's CSP: ${csp}`);
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

  // The companion-app view, for axe-core, and at a phone's width.
  {
    const { url } = await authorization();
    const { context, page } = await browserAt(browser, { bypassCSP: true, viewport: { width: 390, height: 844 } });
    await page.goto(url.href, { waitUntil: "load" });
    await page.click("a[href*='/app?lang=']");
    await page.waitForLoadState("load");
    expect(!(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)), "the app view is wider than a phone");
    await accessible(page, "app view");
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
    const { url } = await authorization({ redirect_uri: `${redirectBase}/elsewhere` });
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

  // The card and the phone through the companion app.
  {
    const tokens = await viaApp(browser, { ui_locales: "ja" }, ["--card", cardDir], ["--pin", "1234", "--sign-pin", "ABC123"], "app-card-ja");
    const claims = tokens.claims();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    report.card = { amr: claims.amr, name: info.name, refreshed: Boolean(refreshed.access_token) && refreshed.refresh_token !== tokens.refresh_token };
    const phone = await viaApp(browser, {}, ["--phone", phoneDir], ["--pin", "4321", "--sign-pin", "PHONE123"], "app-phone-en");
    const phoneInfo = await oidc.fetchUserInfo(config, phone.access_token, phone.claims().sub);
    const phoneRefreshed = await oidc.refreshTokenGrant(config, phone.refresh_token);
    report.phone = { amr: phone.claims().amr, name: phoneInfo.name, refreshed: Boolean(phoneRefreshed.access_token) };
  }

  // Sign transactions, with the card and with the phone: created with a client-credentials token,
  // signed in the app, fetched with the user's access token, the signature checked by openssl.
  report.sign = {};
  for (const [name, source, pins, shotName] of [
    ["card", ["--card", cardDir], ["--pin", "1234", "--sign-pin", "ABC123"], "app-sign-en"],
    ["phone", ["--phone", phoneDir], ["--pin", "4321", "--sign-pin", "PHONE123"], null],
  ]) {
    const client = await oidc.clientCredentialsGrant(config, { scope: "sign" });
    const document = `口座開設申込書（openid-client, ${name}）\n`;
    const hash = createHash("sha256").update(document).digest("base64");
    const created = await fetch(`${base}/api/sign-transactions`, {
      method: "POST",
      headers: { authorization: `Bearer ${client.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ purpose: "口座開設申込書への署名", hash }),
    }).then((r) => r.json());
    expect(typeof created.sign_transaction_id === "string", `creating the sign transaction: ${JSON.stringify(created)}`);
    const extra = { scope: "openid sign", sign_transaction_id: created.sign_transaction_id };
    const tokens = await viaApp(browser, extra, source, pins, shotName);
    const result = await fetch(`${base}/api/sign-transactions/${created.sign_transaction_id}/result`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.json());
    const file = (suffix, data) => {
      const p = path.join(out, `${name}-${suffix}`);
      fs.writeFileSync(p, data);
      return p;
    };
    const doc = file("document.txt", document);
    const sig = file("signature.bin", Buffer.from(result.signature ?? "", "base64"));
    const cert = file("certificate.der", Buffer.from(result.certificate ?? "", "base64"));
    const pub = file("public.pem", (await execFile("openssl", ["x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout"])).stdout);
    const verified = await execFile("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", sig, doc]).then((r) => r.stdout.trim(), (e) => `${e.stdout}${e.stderr}`);
    expect(verified === "Verified OK", `${name}: openssl dgst -verify: ${verified}`);
    report.sign[name] = { openssl: verified, valid: result.verification?.valid, device: result.verification?.signer?.device };
  }
} catch (e) {
  problems.push(`failed: ${e.stack ?? e}`);
} finally {
  await browser.close();
  listener.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(problems.length ? 1 : 0);
