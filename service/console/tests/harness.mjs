// What the browser tests run against, all on loopback: an OpenID Connect provider
// (oidc-provider, configured here: a public client with PKCE, accounts whose claims carry org
// and roles), `payroll serve` (the debug binary) over a copy of the sample month with that
// provider configured, and Debian's chromium driven by playwright-core. The month gets some
// refused lines, a ruleset gap for one worker and phones, so every page has something to show.

import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');
export const SCREENSHOTS = join(repo, 'target/console-screenshots');
export const CLIENT_ID = 'payroll-console';
/** The pages' clock in every browser test: the end of the sample month, so nothing a page
 * shows depends on the day the tests run (pages that default a period ask the service, and
 * fall back to the month before this one). */
export const FIXTURE_NOW = new Date('2026-10-31T12:00:00Z');

/** The people of the test: login name → roles (the worker's login is their worker id). */
export const ACCOUNTS = {
  hr1: ['hr_admin'],
  appr1: ['approver'],
  ops1: ['ops_viewer'],
  an1: ['analyst'],
  admin1: ['org_admin'],
  W000000: ['worker'],
};

/** The `payroll` binary: `PAYROLL_BIN`, else the debug build where cargo puts it. */
export function binary() {
  return process.env.PAYROLL_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, 'target'), 'debug/payroll');
}

/** A server on a free loopback port whose handler is set later (the provider needs its own
 * URL, and its client the console's). */
async function listenLater() {
  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = createServer((req, res) => handler(req, res));
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${server.address().port}`, set: (h) => { handler = h; } };
}

/** The OpenID Connect provider: devInteractions login (any password), claims org and roles
 * in the ID token, RS256 keys made for this run. */
function provider(issuer, consoleUrl) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomUUID()}`, alg: 'RS256', use: 'sig' };
  const oidc = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      redirect_uris: [`${consoleUrl}/`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomUUID()] },
    scopes: ['openid', 'payroll'],
    claims: { openid: ['sub'], payroll: ['org', 'roles'] },
    // The console sends the ID token as its bearer: it must carry the claims.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    clientBasedCORS: () => true,
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const roles = ACCOUNTS[id];
      if (!roles) return undefined;
      return { accountId: id, claims: () => ({ sub: id, org: 'org0', roles }) };
    },
  });
  oidc.proxy = false;
  return oidc;
}

/** Starts `payroll serve` with `config` (TOML, or null for none: a config file is never the
 * embedded demo) and `args`, and resolves its base URL from what it prints. */
export async function serve(config, dir, args = []) {
  const flags = [...args];
  if (config !== null) {
    const file = join(dir, 'payroll.toml');
    writeFileSync(file, config);
    flags.unshift('--config', file);
  }
  const child = spawn(binary(), ['serve', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`payroll serve did not start:\n${out}`)), 120_000);
    const read = (chunk) => {
      out += chunk;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`payroll serve exited ${code}:\n${out}`)); });
    child.on('error', (e) => { clearTimeout(timer); fail(new Error(`could not start ${binary()}: ${e.message}`)); });
  });
  return { base, child, output: () => out };
}

/** Refused lines the console must show to their org only: a punch and an amount of org0's
 * W000000, a punch of org1's W000001 and one of a worker nobody has. Returns the lines of
 * attendance.ndjson that are org0's and org1's. */
function refusedLines(inputs) {
  const attendance = join(inputs, 'attendance.ndjson');
  const before = readFileSync(attendance, 'utf8').trimEnd().split('\n').length;
  const punch = (id, worker, direction) =>
    JSON.stringify({ event_id: id, worker_id: worker, ts: '2026-10-05T03:30:00Z', direction });
  appendFileSync(attendance, [
    punch('bad-0', 'W000000', 'sideways'),
    punch('bad-1', 'W000001', 'sideways'),
    punch('bad-2', 'W999999', 'in'),
  ].map((l) => `${l}\n`).join(''));
  appendFileSync(join(inputs, 'adjustments.ndjson'), `${JSON.stringify({
    adjustment_id: 'ADJ-bad', worker_id: 'W000000', period: '2026-10', kind: 'earning', code: 'bonus',
    amount: '-731.25', reason: 'x', requested_by: 'a', event_id: 'bad-3', status: 'approved', version: 1, approved_by: 'b',
  })}\n`);
  return { org0: before + 1, org1: before + 2 };
}

/** Every worker gets a phone, so a finalized run sends each a payslip notice by SMS. */
function withPhones(inputs) {
  const file = join(inputs, 'workers.csv');
  // The sample's lines end in CRLF.
  const [header, ...rows] = readFileSync(file, 'utf8').trimEnd().split(/\r?\n/);
  writeFileSync(file, [`${header},phone`, ...rows.map((r, i) => `${r},+91987650${String(i).padStart(4, '0')}`)].join('\r\n') + '\r\n');
}

/** The reference ruleset with a gap: a site allowance whose `CASE` has no branch for W000002,
 * so a final run has one worker to exclude before it can be approved. */
function gappedRuleset() {
  const marker = '# ---------------------------------------------------------------- payslips';
  const text = readFileSync(join(repo, 'rules/examples/india-contract.toml'), 'utf8');
  if (!text.includes(marker)) throw new Error('the example ruleset lost its payslips marker');
  return text.replace(marker, [
    '[[component]]', 'name = "site_allowance"', 'category = "earning"',
    'expr = "CASE WHEN worker_id <> \'W000002\' THEN 0.00 END"', '', marker,
  ].join('\n'));
}

/** An SMS vendor on loopback that fails until `up` is set, then accepts every message. */
async function smsVendor() {
  const vendor = { up: false, sent: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (!vendor.up) { res.statusCode = 503; res.end('vendor down'); return; }
      vendor.sent.push(JSON.parse(body));
      res.setHeader('content-type', 'application/json');
      res.end('{"status": "queued"}');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return Object.assign(vendor, { server, url: `http://127.0.0.1:${server.address().port}/messages` });
}

/** tansu, the Kafka-protocol broker, in memory on a free loopback port, once it accepts
 * connections. */
async function broker() {
  const port = await new Promise((ok) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => ok(port)); });
  });
  const address = `127.0.0.1:${port}`;
  const child = spawn(process.env.TANSU ?? 'tansu', [
    'broker', '--storage-engine=memory://tansu/',
    `--listener-url=tcp://${address}`, `--advertised-listener-url=tcp://${address}`,
  ], { stdio: 'ignore', env: { ...process.env, RUST_LOG: 'error' } });
  const spawned = new Promise((_, fail) => child.on('error', (e) =>
    fail(new Error(`tansu is needed (scripts/test installs it): ${e.message}`))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await Promise.race([spawned, new Promise((ok) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); ok(true); });
      socket.on('error', () => ok(false));
    })]);
    if (up) return { address, stop: () => child.kill('SIGTERM') };
    if (Date.now() > deadline) { child.kill('SIGTERM'); throw new Error(`tansu did not start on ${address}`); }
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** Publishes an input folder (or the files of one there are) to the broker's topics. */
export function produce(env, inputs) {
  execFileSync(binary(), ['produce', '--brokers', env.broker.address, '--inputs', inputs, '--partitions', '8'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The whole setup: provider, service over the sample month, browser. With `stream`, the
 * month goes to a broker of its own and the service consumes it (stream mode, its live board
 * rewritten every second) instead of reading the folder. */
export async function start({ stream = false } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'payroll-console-'));
  const inputs = join(dir, 'inputs');
  cpSync(join(repo, 'cli/tests/data/sample'), inputs, { recursive: true });
  const refused = stream ? null : refusedLines(inputs);
  withPhones(inputs);
  const rules = join(dir, 'rules.toml');
  writeFileSync(rules, gappedRuleset());
  const kafka = stream ? await broker() : null;
  if (kafka) produce({ broker: kafka }, inputs);
  const source = kafka
    ? [`brokers = ${JSON.stringify(kafka.address)}`, `sites = ${JSON.stringify(join(inputs, 'sites.csv'))}`]
    : [`inputs = ${JSON.stringify(inputs)}`];
  const sms = await smsVendor();
  const idp = await listenLater();
  // The service's port is known once it listens; its config names the issuer first.
  const service = await serve([
    'listen = "127.0.0.1:0"',
    `data = ${JSON.stringify(join(dir, 'data'))}`,
    ...source,
    `rules = ${JSON.stringify(rules)}`,
    // Payouts are made from this account.
    '[orgs.org0]',
    'debit_account = "000111222333"',
    'debit_ifsc = "ICIC0000001"',
    // Notices go by SMS to the vendor above: one attempt each, so a notice is dead while the
    // vendor is down.
    '[notices]',
    'channels = ["sms"]',
    'max_attempts = 1',
    'backoff = "100ms"',
    'poll = "200ms"',
    '[notices.sms]',
    `url = ${JSON.stringify(sms.url)}`,
    '[auth.oidc]',
    `issuer = ${JSON.stringify(idp.url)}`,
    `client_id = "${CLIENT_ID}"`,
    'scopes = "openid payroll"',
    ...(kafka ? ['[stream]', 'period = "2026-10"', 'live_every = "1s"', 'checkpoint_every = "1s"'] : []),
    '',
  ].join('\n'), dir);
  const oidc = provider(idp.url, service.base);
  idp.set(oidc.callback());
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return {
    dir,
    base: service.base,
    // The browser contexts not closed yet: what a failing test's pages showed is printed.
    open: new Set(),
    issuer: idp.url,
    browser,
    service,
    refused,
    sms,
    broker: kafka,
    async stop() {
      await browser.close();
      service.child.kill('SIGTERM');
      kafka?.stop();
      idp.server.close();
      sms.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh browser context (its own cookies and sessionStorage) whose clock starts at
 * `FIXTURE_NOW` and flows from there, that refuses every request off loopback and records
 * them (the console must work offline), and that keeps each page's console errors. */
export async function context(env, options = {}) {
  const ctx = await env.browser.newContext({ acceptDownloads: true, ...options });
  await ctx.clock.install({ time: FIXTURE_NOW });
  env.open.add(ctx);
  ctx.on('close', () => env.open.delete(ctx));
  ctx.on('page', (page) => {
    page.errors = [];
    page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
    page.on('pageerror', (e) => page.errors.push(String(e)));
  });
  ctx.offLoopback = [];
  await ctx.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
    let from = '';
    try { from = route.request().frame().url(); } catch { /* a worker's request */ }
    ctx.offLoopback.push({ url: route.request().url(), from });
    return route.abort();
  });
  return ctx;
}

/** `error` with what every open page showed: its address, visible text and console errors, so
 * a wait that timed out says what was there instead. */
export async function explained(env, error) {
  const seen = [];
  for (const ctx of env?.open ?? []) {
    for (const page of ctx.pages()) {
      const text = await page.locator('body').innerText({ timeout: 2_000 }).catch((e) => `(no text: ${e.message})`);
      const errors = page.errors?.length ? page.errors.join('\n') : '(none)';
      seen.push(`--- page ${page.url()}\nvisible text:\n${text.trim()}\nconsole errors:\n${errors}`);
    }
  }
  if (seen.length) error.message = `${error.message}\n\nWhat the open pages showed:\n${seen.join('\n')}`;
  return error;
}

/** Signs in through the provider's login and consent pages as `login`. */
export async function signIn(env, page, login) {
  await page.goto(`${env.base}/`);
  await page.getByRole('button', { name: 'Sign in with your company account' }).click();
  await page.waitForURL(`${env.issuer}/**`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  const consent = page.getByRole('button', { name: 'Continue' });
  await Promise.race([
    consent.waitFor({ timeout: 10_000 }).then(() => consent.click()),
    page.waitForURL(`${env.base}/**`, { timeout: 10_000 }),
  ]).catch(() => {});
  await page.waitForURL(`${env.base}/**`);
  await page.locator('#who').getByText(login).waitFor();
}

/** The bearer the console holds, for checking the API directly. */
export function tokenOf(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('payroll.session')).token);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** axe-core injected into the page (by the driver: the console's CSP allows no inline script);
 * the serious and critical violations. */
const AXE = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
export async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
}
