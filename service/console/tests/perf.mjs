// Opt-in: how fast the console renders the runs list and a large run's detail page (its first
// page of workers) in the test browser on loopback. Prints figures; asserts nothing.
//
//   node service/console/tests/perf.mjs [workers]     (222000 by default: org0, the largest of the
//                                                      generated orgs, then has about 100k)
//
// Generates a month of `workers` workers with `payroll gen`, serves it with `payroll serve`
// (PAYROLL_BIN, the debug binary by default), runs a provisional run through the API and
// measures each page three times in chromium.

import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { binary, serve } from './harness.mjs';

const workers = Number(process.argv[2] ?? 222_000);
const bin = binary();
const secret = 'perf-secret-of-at-least-thirty-two-characters';

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** An HS256 token the service accepts with `secret`. */
function token(sub, roles) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub, org: 'org0', roles, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const signature = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

const dir = mkdtempSync(join(tmpdir(), 'payroll-perf-'));
let service;
let browser;
try {
  const inputs = join(dir, 'inputs');
  let t = Date.now();
  execFileSync(bin, ['gen', '--workers', String(workers), '--period', '2026-10', '--out', inputs], { stdio: 'ignore' });
  console.log(`generated ${workers} workers in ${Date.now() - t} ms`);
  service = await serve([
    'listen = "127.0.0.1:0"',
    `data = ${JSON.stringify(join(dir, 'data'))}`,
    `inputs = ${JSON.stringify(inputs)}`,
    '[auth]',
    `hs256_secret = "${secret}"`,
    '',
  ].join('\n'), dir);
  const hr = token('hr1', ['hr_admin']);
  const call = async (path, init = {}) => {
    const r = await fetch(`${service.base}${path}`, { ...init, headers: { Authorization: `Bearer ${hr}`, ...init.headers } });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  t = Date.now();
  const run = await call('/v1/orgs/org0/runs', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'perf' },
    body: JSON.stringify({ period: '2026-10', kind: 'provisional' }),
  });
  let status = run.status;
  while (!['calculated', 'failed'].includes(status)) {
    await new Promise((ok) => setTimeout(ok, 1000));
    status = (await call(`/v1/orgs/org0/runs/${run.id}`)).status;
  }
  const detail = await call(`/v1/orgs/org0/runs/${run.id}`);
  console.log(`run ${status}: ${detail.rows} workers in results, ${Date.now() - t} ms`);

  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript((bearer) => {
    sessionStorage.setItem('payroll.session', JSON.stringify({ token: bearer, via: 'token' }));
  }, hr);
  const page = await context.newPage();
  const measure = async (name, hash, ready) => {
    const times = [];
    for (let i = 0; i < 3; i += 1) {
      await page.goto('about:blank');
      const started = Date.now();
      await page.goto(`${service.base}/${hash}`);
      await page.locator(ready).first().waitFor({ timeout: 120_000 });
      times.push(Date.now() - started);
    }
    console.log(`figure: ${name}: ${times.join(', ')} ms from navigation to rendered (3 loads, cold page each)`);
  };
  await measure('runs list', '#/runs', 'tr[data-run]');
  await measure(`run detail of ${detail.rows} workers, first page of 50`, `#/runs/${run.id}`, 'tr[aria-label^="Worker "]');
} finally {
  await browser?.close();
  service?.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
