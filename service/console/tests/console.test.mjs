// The console in a real browser, each role doing its job, signed in through a real OpenID
// Connect provider. Every page is screenshotted (target/console-screenshots/) and checked with
// axe-core; the phone layout is checked at 360 px. Render times are printed, never asserted.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test as nodeTest } from 'node:test';

import { axe, context, explained, produce, repo, serve, shot, signIn, start, tokenOf } from './harness.mjs';

let env;
const figures = [];
const a11y = [];
let provisionalRun;
let finalRun;

before(async () => {
  env = await start();
});

after(async () => {
  await env?.stop();
  for (const f of figures) console.log(`figure: ${f}`);
});

/** A test that, when it fails (most often a wait that timed out), prints what its open pages
 * showed and the console errors they logged. */
function test(name, body) {
  return nodeTest(name, async () => {
    try {
      await body();
    } catch (e) {
      throw await explained(env, e);
    }
  });
}

/** Screenshot and accessibility check of the page as it is now. */
async function page_done(page, name) {
  await shot(page, name);
  const violations = await axe(page);
  a11y.push(...violations.map((v) => `${name}: ${v}`));
  assert.deepEqual(violations, [], `${name}: serious or critical accessibility violations`);
}

/** Triggers a run from the runs page, checking the confirmation names org, period and kind. */
async function trigger(page, kind) {
  await page.goto(`${env.base}/#/runs`);
  const form = page.getByRole('form', { name: 'Trigger a run' });
  await form.locator('input[name=period]').fill('2026-10');
  await form.locator('select[name=kind]').selectOption(kind);
  await form.getByRole('button', { name: 'Trigger run…' }).click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const text = await dialog.innerText();
  assert.match(text, /org0/);
  assert.match(text, /2026-10/);
  assert.match(text, new RegExp(kind.toUpperCase()));
  // The list follows the new run over its Server-Sent Events.
  const live = page.waitForRequest((r) => /\/v1\/orgs\/org0\/runs\/[^/]+\/events$/.test(r.url()));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/v1/orgs/org0/runs')),
    dialog.getByRole('button', { name: `Trigger ${kind} run` }).click(),
  ]);
  assert.equal(response.status(), 202, await response.text());
  const { id } = await response.json();
  const row = page.locator(`tr[data-run="${id}"]`);
  await row.waitFor();
  assert.match((await live).url(), new RegExp(`/runs/${id}/events$`));
  // Live: the row's status moves to calculated without a reload.
  await row.locator('.badge.calculated').waitFor({ timeout: 120_000 });
  return id;
}

test('HR triggers a provisional run, watches it finish, opens a worker and the explain trace', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  provisionalRun = await trigger(page, 'provisional');
  await page_done(page, 'runs-hr');

  const started = Date.now();
  await page.goto(`${env.base}/#/runs`);
  await page.locator('tr[data-run]').first().waitFor();
  figures.push(`runs list rendered in ${Date.now() - started} ms (sample month, debug build, loopback)`);

  await page.goto(`${env.base}/#/runs/${provisionalRun}`);
  await page.getByRole('heading', { name: /Run of 2026-10/ }).waitFor();
  await page.getByRole('heading', { name: 'Totals' }).waitFor();
  const firstRow = page.getByRole('row', { name: /^Worker W/ }).first();
  await firstRow.waitFor();
  assert.match(await page.locator('main').innerText(), /₹\d/);
  // The org's refused lines with where and why; org1's and nobody's are not shown.
  const letters = page.locator('#dead-letters');
  await letters.getByRole('cell', { name: `line ${env.refused.org0}`, exact: true }).waitFor();
  const refused = await letters.innerText();
  assert.match(refused, /direction\s+unknown variant `sideways`/);
  assert.match(refused, /amount\s+`-731.25` is negative/);
  assert.doesNotMatch(refused, new RegExp(`line ${env.refused.org1}\\b`));
  assert.equal(await letters.locator('tbody tr').count(), 2);
  assert.match(await page.locator('#unattributed').innerText(), /no worker of the master: 1,/);
  const [refusedFile] = await Promise.all([
    page.waitForEvent('download'),
    letters.getByRole('button', { name: 'Refused lines (CSV)' }).click(),
  ]);
  const refusedCsv = readFileSync(await refusedFile.path(), 'utf8');
  assert.match(refusedCsv, /^source,line,row,field,reason,original\n/);
  assert.equal(refusedCsv.trim().split('\n').length, 3, refusedCsv);
  assert.match(refusedCsv, /bad-0/);
  assert.match(await page.locator('main').innerText(), /Workers not computed \(1\)/);
  await page_done(page, 'run-provisional');

  // Next clicked twice before the first click's answer came: the list shows the second page,
  // labelled as the second, and the first answer, landing last, changes nothing (the list once
  // took the second click to a third page whose token was not known yet, and showed the first
  // page labelled as the third). Pages of 10 here, by the route, so org0's 41 workers make five.
  const workerList = page.locator('#workers');
  const results = (url) => url.pathname.endsWith(`/runs/${provisionalRun}/results`);
  let held;
  await page.route(results, async (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set('page_size', '10');
    if (held || !url.searchParams.has('page_token')) return route.continue({ url: url.href });
    held = { route, answer: route.fetch({ url: url.href }) };
  });
  await page.reload();
  await workerList.locator('.pager').getByText(/^Workers 1–10\b/).waitFor();
  const firstOfFirstPage = await workerList.locator('tbody tr').first().getAttribute('aria-label');
  const next = workerList.getByRole('button', { name: 'Next' });
  await next.click();
  await next.click();
  await workerList.locator('.pager').getByText(/^Workers 51–60\b/).waitFor();
  await held.route.fulfill({ response: await held.answer });
  await page.unroute(results);
  await page.waitForTimeout(500);
  assert.match(await workerList.locator('.pager').innerText(), /Workers 51–60\b/);
  assert.equal(await workerList.locator('tbody tr').count(), 10);
  assert.notEqual(await workerList.locator('tbody tr').first().getAttribute('aria-label'), firstOfFirstPage);
  await page.reload();
  await firstRow.waitFor();

  // The search finds workers over the whole run, by id or name.
  await page.getByRole('searchbox', { name: 'Worker id or name' }).fill('worker 1');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('row', { name: 'Worker W000000' }).waitFor({ state: 'detached' });
  const names = await page.locator('#workers tbody tr td:nth-child(2)').allInnerTexts();
  assert.ok(names.length > 0 && names.every((n) => n.toLowerCase().includes('worker 1')), `${names}`);
  await page.getByRole('searchbox', { name: 'Worker id or name' }).fill('W000000');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('row', { name: 'Worker W000000' }).waitFor();
  assert.equal(await page.getByRole('row', { name: /^Worker W/ }).count(), 1);
  await page.getByRole('row', { name: 'Worker W000000' }).click();
  const drawer = page.locator('aside.drawer');
  await drawer.getByRole('table', { name: 'Explain trace of W000000' }).waitFor();
  assert.match(await drawer.innerText(), /Basic wage/);
  await page_done(page, 'worker-explain');
  // The provider's own pages may reach for web fonts; the console reaches nothing off loopback.
  assert.deepEqual(ctx.offLoopback.filter((r) => r.from.startsWith(env.base)), []);
  await ctx.close();
});

test('an org admin who triggered a run sees Approve disabled with the four-eyes reason', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'admin1');
  const own = await trigger(page, 'final');
  await page.goto(`${env.base}/#/runs/${own}`);
  await page.locator('#cannot-approve').getByText('four-eyes').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Approve' }).isDisabled(), true);
  // An approver rejects it with a reason, so HR's final run below is the period's.
  const checker = await context(env);
  const p2 = await checker.newPage();
  await signIn(env, p2, 'appr1');
  await p2.goto(`${env.base}/#/runs/${own}`);
  await p2.getByRole('button', { name: 'Reject…' }).click();
  await p2.locator('dialog[open] input[name=reason]').fill('rates not yet revised');
  await p2.locator('dialog[open]').getByRole('button', { name: 'Reject' }).click();
  await p2.locator('h1 .badge.rejected').waitFor();
  assert.match(await p2.locator('.timeline').innerText(), /rates not yet revised/);
  await page_done(p2, 'run-rejected');
  await checker.close();
  await page.goto(`${env.base}/#/roles`);
  await page.getByRole('checkbox', { name: 'ops_viewer: See runs' }).waitFor();
  // Saved as it is: the table round-trips through the API, every permission kept.
  const admin = await tokenOf(page);
  const role = async () => (await (await fetch(`${env.base}/v1/orgs/org0/roles/ops_viewer`, {
    headers: { Authorization: `Bearer ${admin}` },
  })).json()).permissions;
  const before = await role();
  await page.getByRole('row', { name: /^ops_viewer/ }).getByRole('button', { name: 'Save' }).click();
  await page.getByText('Role ops_viewer saved').waitFor();
  assert.deepEqual(await role(), before);
  await page_done(page, 'roles');
  await page.goto(`${env.base}/#/audit`);
  await page.getByRole('form', { name: 'Filter the audit log' }).locator('input[name=action]').fill('run.trigger');
  await page.getByRole('form', { name: 'Filter the audit log' }).getByRole('button', { name: 'Filter' }).click();
  // The filtered page replaces the whole log: only run.trigger entries remain.
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('main tbody tr td:nth-child(4)')].map((c) => c.textContent);
    return cells.length > 0 && cells.every((c) => c === 'run.trigger');
  });
  await page.goto(`${env.base}/#/schedule`);
  await page.getByRole('form', { name: 'Edit the schedule' }).getByRole('button', { name: 'Save schedule' }).click();
  await page.getByText('Asia/Kolkata').first().waitFor();
  await page_done(page, 'schedule');
  await page.goto(`${env.base}/#/audit`);
  await page.getByRole('cell', { name: 'run.trigger' }).first().waitFor();
  await page_done(page, 'audit');
  await ctx.close();
});

test('HR triggers a final run; the maker is told why they cannot approve', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  finalRun = await trigger(page, 'final');
  await page.goto(`${env.base}/#/runs/${finalRun}`);
  const why = page.locator('#cannot-approve');
  await why.waitFor();
  assert.match(await why.innerText(), /you triggered this run, so another person/);
  assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0);
  await page_done(page, 'run-final-maker');
  await ctx.close();
});

test('an approver approves; the payslip previews inline and downloads with the net pay of the results', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'appr1');
  await page.goto(`${env.base}/#/runs/${finalRun}`);
  // W000002 could not be computed: the approver excludes them, saying why, before approving.
  await page.locator('#cannot-approve').getByText('exclude them before approving').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Approve' }).isDisabled(), true);
  await page.getByRole('row').filter({ hasText: 'W000002' }).getByRole('button', { name: 'Exclude…' }).click();
  const exclusion = page.locator('dialog[open]');
  assert.match(await exclusion.innerText(), /W000002.*org0.*2026-10/s);
  await exclusion.locator('input[name=reason]').fill('paid off-cycle by cheque');
  await exclusion.getByRole('button', { name: 'Exclude' }).click();
  await page.getByText('W000002 excluded').waitFor();
  await page.getByRole('row').filter({ hasText: 'W000002' }).getByText('by appr1: paid off-cycle by cheque').waitFor();
  // The month pays workers below the minimum wage: block findings hold the run until the
  // approver acknowledges them, saying why.
  await page.locator('#cannot-approve').getByText('open block findings').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Approve' }).isDisabled(), true);
  const findings = page.locator('#findings');
  await findings.getByRole('row').filter({ hasText: 'rate below minimum wage' })
    .getByRole('button', { name: 'Acknowledge all…' }).click();
  const acknowledging = page.locator('dialog[open]');
  assert.match(await acknowledging.innerText(), /open findings of this run/);
  await acknowledging.locator('input[name=reason]').fill('state revision due; arrears follow');
  await acknowledging.getByRole('button', { name: 'Acknowledge' }).click();
  await page.getByText(/\d+ findings acknowledged/).waitFor();
  await page.locator('#findings-list').getByText('acknowledged by appr1: state revision due; arrears follow').first().waitFor();
  // Filtered to what is still open of severity block: none.
  await page.locator('#findings select[name=severity]').selectOption('block');
  await page.locator('#findings select[name=status]').selectOption('open');
  await page.locator('#findings-list').getByText('No finding matches.').waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  const dialog = page.locator('dialog[open]');
  assert.match(await dialog.innerText(), /org0.*2026-10/s);
  await dialog.getByRole('button', { name: 'Approve' }).click();
  // Live through finalizing to finalized.
  await page.locator('h1 .badge.finalized').waitFor({ timeout: 120_000 });
  await page.getByRole('row', { name: 'Worker W000000' }).waitFor();
  // October is the org's first finalized period: its variance report has nothing to compare.
  await page.getByRole('button', { name: 'Variance vs last period (XLSX)' }).click();
  await page.getByText('no finalized period before 2026-10').waitFor();
  await page_done(page, 'run-finalized');

  const token = await tokenOf(page);
  const results = await (await fetch(`${env.base}/v1/orgs/org0/runs/${finalRun}/results?page_size=1000`, {
    headers: { Authorization: `Bearer ${token}` },
  })).json();
  const w = results.rows.find((r) => r.worker_id === 'W000000');

  await page.getByRole('row', { name: 'Worker W000000' }).click();
  const drawer = page.locator('aside.drawer');
  const frame = drawer.locator('iframe.pdf');
  await frame.waitFor();
  assert.match(await frame.getAttribute('src'), /^blob:/);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    drawer.getByRole('button', { name: 'Download payslip (PDF)' }).click(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'payslip-'));
  const pdf = join(dir, 'payslip.pdf');
  await download.saveAs(pdf);
  const text = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
  const shown = await page.evaluate(async (net) => (await import('/console/format.js')).rupees(net), w.net_pay);
  assert.ok(text.includes(shown), `the payslip shows the results' net pay ${shown}:\n${text}`);
  rmSync(dir, { recursive: true });
  // Chromium's PDF viewer renders it inside the iframe, under the console's CSP.
  for (let i = 0; i < 50 && !page.frames().some((f) => f.url().startsWith('chrome-extension://')); i += 1) {
    await page.waitForTimeout(200);
  }
  assert.ok(page.frames().some((f) => f.url().startsWith('chrome-extension://')), 'the PDF viewer loaded in the iframe');
  await page.waitForTimeout(1500);
  await page_done(page, 'payslip-drawer');

  // The approver pays the run: a payout of every worker's net pay, its NEFT file downloaded.
  // The payouts list the page asked for as it opened answers late, after the payout: the
  // list shows the payout all the same (a late, older answer once emptied it).
  await page.keyboard.press('Escape');
  const listing = '**/payouts?page_size=100';
  let held;
  await page.route(listing, async (route) => {
    if (held) return route.continue();
    held = { route, answer: route.fetch() };
  });
  await page.reload();
  await page.getByRole('button', { name: 'Make payout…' }).click();
  const confirm = page.locator('dialog[open]');
  assert.match(await confirm.innerText(), /org0.*2026-10/s);
  await confirm.getByRole('button', { name: 'Make payout' }).click();
  const card = page.locator('#payout');
  await card.getByText('Payout 1').waitFor();
  await page.getByRole('row', { name: 'Show payout 1' }).waitFor();
  await held.route.fulfill({ response: await held.answer });
  await page.unroute(listing);
  await page.waitForTimeout(500);
  assert.equal(await page.getByRole('row', { name: 'Show payout 1' }).count(), 1, 'the late answer left the payout listed');
  assert.match(await card.innerText(), /Total\s*₹[\d,]+\.\d{2}/);
  const [neft] = await Promise.all([
    page.waitForEvent('download'),
    card.getByRole('button', { name: 'NEFT file (CSV)' }).click(),
  ]);
  const payments = readFileSync(await neft.path(), 'utf8').trim().split('\n').slice(1);
  assert.ok(payments.length >= 1, 'the NEFT file has payments');
  assert.ok(payments.every((p) => !p.includes('W000002')), 'the excluded worker is not paid');
  // The run's payouts are listed; choosing one shows it.
  await page.getByRole('row', { name: 'Show payout 1' }).click();
  await card.getByText('Payout 1').waitFor();
  await page_done(page, 'payout');

  // The bank returns W000000's payment: the approver records the return, and it waits for
  // another person's approval.
  const reference = payments.map((p) => p.split(',')[5]).find((r) => r.endsWith('-W000000'));
  assert.ok(reference, `W000000 is paid:\n${payments.join('\n')}`);
  await card.getByLabel('Bank return file (CSV)').setInputFiles({
    name: 'returns.csv', mimeType: 'text/csv', buffer: Buffer.from(`reference,reason\n${reference},Account closed\n`),
  });
  await page.getByText('Return 1 recorded: 1 payments, waiting for another person’s approval').waitFor();
  const recorded = card.locator('#returns').getByRole('row').filter({ hasText: 'Return 1' });
  await recorded.getByText('Waiting for another person’s approval').waitFor();
  assert.match(await recorded.innerText(), /W000000/);
  assert.equal(await recorded.getByRole('button', { name: 'Approve' }).count(), 0, 'the maker cannot approve their own return');
  // A payout made before the approval does not pay it: nobody is left to pay.
  await page.getByRole('button', { name: 'Make payout…' }).click();
  await page.locator('dialog[open]').getByRole('button', { name: 'Make payout' }).click();
  await page.locator('.toast.bad').filter({ hasText: /every worker of run .* is paid|nobody to pay/ }).waitFor();
  assert.equal(await page.getByRole('row', { name: 'Show payout 2' }).count(), 0, 'no second payout');
  await page_done(page, 'return-pending');

  // Another person, the org admin, approves it.
  const adminCtx = await context(env);
  const admin = await adminCtx.newPage();
  await signIn(env, admin, 'admin1');
  await admin.goto(`${env.base}/#/runs/${finalRun}`);
  await admin.getByRole('row', { name: 'Show payout 1' }).click();
  const toDecide = admin.locator('#returns').getByRole('row').filter({ hasText: 'Return 1' });
  await toDecide.getByRole('button', { name: 'Approve' }).click();
  const approval = admin.locator('dialog[open]');
  assert.match(await approval.innerText(), /recorded by appr1/);
  await approval.getByRole('button', { name: 'Approve' }).click();
  await admin.getByText('Return 1 approved: the next payout pays its 1 payments again').waitFor();
  await toDecide.locator('.badge.approved').waitFor();
  assert.match(await admin.locator('#payout').innerText(), /Returned by the bank \(approved\)\s*1/);
  await page_done(admin, 'return-approved');
  await adminCtx.close();

  // The next payout pays exactly that payment, to the same account, once.
  await page.getByRole('button', { name: 'Make payout…' }).click();
  await page.locator('dialog[open]').getByRole('button', { name: 'Make payout' }).click();
  await card.getByText('Payout 2').waitFor();
  assert.match(await card.innerText(), /Payments\s*1\b/);
  const [neft2] = await Promise.all([
    page.waitForEvent('download'),
    card.getByRole('button', { name: 'NEFT file (CSV)' }).click(),
  ]);
  const repaid = readFileSync(await neft2.path(), 'utf8').trim().split('\n').slice(1).map((p) => p.split(','));
  const first = payments.map((p) => p.split(',')).find((p) => p[5] === reference);
  assert.equal(repaid.length, 1, `one payment:\n${repaid.join('\n')}`);
  assert.deepEqual(repaid[0].slice(0, 4), first.slice(0, 4), 'W000000 again: same name, account, IFSC and amount');
  assert.match(repaid[0][5], /-2-W000000$/);

  // The periods page lists the org's periods from the service, not from today's date.
  await page.goto(`${env.base}/#/periods`);
  await page.locator('tr[data-period="2026-10"] .badge.locked').waitFor();
  assert.match(await page.locator('tr[data-period="2026-10"]').innerText(), new RegExp(finalRun));
  await page_done(page, 'periods');
  await ctx.close();
});

test('HR previews the PF ceiling at 25,000 over October: its cost by component and who pays more', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  await page.goto(`${env.base}/#/previews`);
  const form = page.getByRole('form', { name: 'Ask for a preview' });
  await form.locator('input[name=period]').fill('2026-10');
  const raised = readFileSync(join(repo, 'rules/examples/india-contract.toml'), 'utf8')
    .replace('least(basic, 15000.00)', 'least(basic, 25000.00)');
  assert.ok(raised.includes('25000.00'), 'the reference ruleset lost its PF ceiling');
  await form.locator('input[name=ruleset]').setInputFiles({ name: 'pf-25000.toml', mimeType: 'application/toml', buffer: Buffer.from(raised) });
  await form.getByRole('button', { name: 'Preview', exact: true }).click();
  const preview = page.locator('#preview');
  await preview.locator('.badge.done').waitFor({ timeout: 60_000 });
  // More PF from everyone paid above 15,000: their net pay falls, nobody's rises.
  const pf = preview.getByRole('row').filter({ hasText: 'pf employee' });
  assert.match(await pf.innerText(), /pf employee\s+₹[\d,]+\.\d\d\s+₹[\d,]+\.\d\d\s+₹[1-9][\d,]*\.\d\d/);
  const counts = preview.locator('#preview-counts');
  assert.match(await counts.innerText(), /Gain\s+0/);
  assert.doesNotMatch(await counts.innerText(), /Lose\s+0\b/);
  await preview.getByRole('table', { name: /net pay per site/i }).waitFor();
  await preview.getByRole('table', { name: /workers who change most/i }).waitFor();
  await page_done(page, 'preview');
  await ctx.close();
});

test('HR sends a dead payslip notice again once the SMS vendor is back', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  // The vendor was down when the run was finalized: one attempt each, so the notices are dead.
  const notices = page.locator('#notices table');
  const row = notices.getByRole('row').filter({ hasText: 'W000000' });
  // Until every notice has had its attempt: none is left to reach the vendor once it is up.
  for (let i = 0; i < 60; i += 1) {
    await page.goto(`${env.base}/#/runs/${finalRun}`);
    await page.getByRole('heading', { name: 'Payslip notices' }).waitFor();
    await notices.waitFor();
    const settled = !/\b(pending|sending)\b/.test(await notices.innerText());
    if (settled && await row.getByRole('button', { name: 'Send again' }).count()) break;
    await page.waitForTimeout(500);
  }
  assert.match(await row.innerText(), /dead/);
  assert.match(await row.innerText(), /503/);
  await page_done(page, 'notices-dead');
  env.sms.up = true;
  await row.getByRole('button', { name: 'Send again' }).click();
  await page.getByText('Notice to W000000 queued again').waitFor();
  for (let i = 0; i < 60 && !/\bsent\b/.test(await row.innerText()); i += 1) {
    await page.waitForTimeout(500);
    await page.reload();
    await row.waitFor();
  }
  assert.match(await row.innerText(), /\bsent\b/);
  const to = env.sms.sent.map((m) => m.to);
  assert.deepEqual(to, ['+919876500000'], 'W000000 (the first worker of the master) got one SMS');
  await ctx.close();
});

test('an upload with bad rows yields the error report; adjustments are requested and decided', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  await page.goto(`${env.base}/#/uploads`);
  await page.locator('#drop').waitFor();
  await page.locator('select[name=kind]').selectOption('adjustments');
  const csv = 'worker_id,period,kind,code,amount,reason\nW000002,2026-11,earning,bonus,10.00,r\nW000002,2026-11,gift,x,1,r\n';
  await page.locator('input[type=file]').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  const result = page.locator('#upload-result');
  await result.waitFor({ timeout: 60_000 });
  assert.match(await result.innerText(), /2 rows, 1 accepted, 1 rejected/);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    result.getByRole('button', { name: 'Error report (CSV)' }).click(),
  ]);
  const report = readFileSync(await download.path(), 'utf8');
  assert.match(report, /gift/);
  await page_done(page, 'uploads');
  // A file dropped on the zone is uploaded the same way.
  const dropped = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['worker_id,period,kind,code,amount,reason\nW000002,2026-11,gift,x,1,r\n'], 'dropped.csv', { type: 'text/csv' }));
    return transfer;
  });
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: dropped });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dropped });
  await result.getByText('dropped.csv').waitFor({ timeout: 60_000 });
  assert.match(await result.innerText(), /1 rows, 0 accepted, 1 rejected/);

  await page.goto(`${env.base}/#/adjustments`);
  const form = page.getByRole('form', { name: 'Request an adjustment' });
  await form.waitFor();
  await form.locator('input[name=worker_id]').fill('W000004');
  await form.locator('input[name=period]').fill('2026-11');
  await form.locator('input[name=code]').fill('bonus');
  await form.locator('input[name=amount]').fill('1500.00');
  await form.locator('input[name=reason]').fill('festival bonus');
  await form.getByRole('button', { name: 'Request' }).click();
  await page.getByRole('cell', { name: 'W000004' }).first().waitFor();
  await page_done(page, 'adjustments-hr');
  await ctx.close();

  const checker = await context(env);
  const p2 = await checker.newPage();
  await signIn(env, p2, 'appr1');
  await p2.goto(`${env.base}/#/adjustments`);
  const row = p2.getByRole('row').filter({ hasText: 'W000004' }).first();
  await row.getByRole('button', { name: 'Reject…' }).click();
  await p2.locator('dialog[open] input[name=reason]').fill('no festival this month');
  await p2.locator('dialog[open]').getByRole('button', { name: 'Reject' }).click();
  await p2.getByText('Adjustment rejected').waitFor();
  // The upload's accepted row is approved with the whole upload, in one step.
  const uploaded = p2.locator('#uploaded');
  await uploaded.getByRole('cell', { name: 'hr1' }).waitFor();
  await page_done(p2, 'adjustments-approver');
  await uploaded.getByRole('button', { name: 'Approve all' }).click();
  const whole = p2.locator('dialog[open]');
  assert.match(await whole.innerText(), /Every pending adjustment of upload .*hr1.*org0/s);
  await whole.getByRole('button', { name: 'Approve all' }).click();
  await p2.getByText('1 adjustments approved').waitFor();
  await uploaded.waitFor({ state: 'detached' });
  await checker.close();
});

test('a workers upload waits for another person: HR sees the masked changes, an approver approves', async () => {
  // The master as the service reads it (with the harness's phones): org0's W000004 moves to a
  // new account, and a worker is added.
  const [header, ...lines] = readFileSync(join(env.dir, 'inputs', 'workers.csv'), 'utf8').trimEnd().split(/\r?\n/);
  const columns = header.split(',');
  const record = (line) => Object.fromEntries(columns.map((c, i) => [c, line.split(',')[i]]));
  const w4 = record(lines.find((l) => l.startsWith('W000004,')));
  assert.equal(w4.org_id, 'org0');
  const [oldAccount, newAccount] = [w4.bank_account, '555566667777'];
  const added = { ...w4, worker_id: 'W900004', name: 'Worker New', bank_account: '555566668888', uan: '', esic_no: '',
    pan: 'ABCDE9004F', phone: '+919876509004', joined_on: '2026-11-01' };
  const csv = [header, { ...w4, bank_account: newAccount }, added].map((r) => (typeof r === 'string' ? r : columns.map((c) => r[c]).join(',')));

  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  await page.goto(`${env.base}/#/uploads`);
  await page.locator('#drop').waitFor();
  await page.locator('select[name=kind]').selectOption('workers');
  await page.locator('input[type=file]').setInputFiles({ name: 'workers.csv', mimeType: 'text/csv', buffer: Buffer.from(`${csv.join('\n')}\n`) });
  const result = page.locator('#upload-result');
  await result.locator('.badge.awaiting_approval').waitFor({ timeout: 60_000 });
  assert.match(await result.innerText(), /2 rows, 2 accepted, 0 rejected, 0 applied/);
  await page.getByRole('row').filter({ hasText: 'workers.csv' }).locator('.badge.awaiting_approval').waitFor();

  // HR reviews their own upload: each change, the accounts masked, and why they cannot approve.
  await result.getByRole('button', { name: 'Review changes' }).click();
  const review = page.locator('#review');
  const account = review.getByRole('row').filter({ hasText: 'W000004' }).filter({ hasText: 'bank_account' });
  await account.waitFor();
  const [, isNew, , was, now] = await account.locator('td').allInnerTexts();
  assert.equal(isNew, 'no');
  assert.ok(was.endsWith(oldAccount.slice(-4)) && was !== oldAccount, `before masked: ${was}`);
  assert.ok(now.endsWith(newAccount.slice(-4)) && now !== newAccount, `after masked: ${now}`);
  assert.equal(await review.getByRole('row').filter({ hasText: 'W000004' }).count(), 1, 'only the account changes');
  const newcomer = review.getByRole('row').filter({ hasText: 'W900004' });
  assert.ok(await newcomer.count() > 3, 'every field of the new worker');
  assert.deepEqual((await newcomer.first().locator('td').allInnerTexts()).slice(0, 2), ['W900004', 'new']);
  const shown = await page.locator('main').innerText();
  for (const secret of [oldAccount, newAccount, added.bank_account, added.pan]) assert.ok(!shown.includes(secret), `${secret} in clear`);
  assert.match(await review.locator('#cannot-decide').innerText(), /You uploaded this file.*four-eyes/);
  assert.equal(await review.getByRole('button', { name: 'Approve', exact: true, disabled: false }).count(), 0, 'no active Approve for the uploader');
  await page.setViewportSize({ width: 360, height: 740 });
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `the review scrolls sideways at 360 px (${scroll} > ${inner})`);
  await page_done(page, 'workers-review-hr');

  // Another person, the approver, finds it waiting, reviews the same rows and approves.
  const checker = await context(env);
  const p2 = await checker.newPage();
  await signIn(env, p2, 'appr1');
  await p2.goto(`${env.base}/#/uploads`);
  await p2.locator('#awaiting').getByRole('row').filter({ hasText: 'workers.csv' }).filter({ hasText: 'hr1' })
    .getByRole('button', { name: 'Review changes' }).click();
  const toDecide = p2.locator('#review');
  await toDecide.getByRole('row').filter({ hasText: 'W000004' }).filter({ hasText: 'bank_account' }).waitFor();
  assert.equal(await toDecide.getByRole('row').filter({ hasText: 'W900004' }).count(), await newcomer.count());
  await page_done(p2, 'workers-review-approver');
  await toDecide.getByRole('button', { name: 'Approve', exact: true }).click();
  const dialog = p2.locator('dialog[open]');
  assert.match(await dialog.innerText(), /2 workers \(1 new.*uploaded by hr1, for org org0/s);
  await dialog.getByRole('button', { name: 'Approve' }).click();
  await toDecide.locator('#review-status .badge.done').waitFor();
  await toDecide.getByText('Approved by appr1: 2 workers written to the master.').waitFor();
  await p2.locator('#awaiting').getByText('None waits for approval.').waitFor();

  // The master has the new account and worker, and the audit log names the change, masked.
  const master = readFileSync(join(env.dir, 'inputs', 'workers.csv'), 'utf8').trimEnd().split(/\r?\n/).map(record);
  assert.equal(master.findLast((w) => w.worker_id === 'W000004').bank_account, newAccount);
  assert.equal(master.filter((w) => w.worker_id === 'W900004').length, 1);
  const audit = await (await fetch(`${env.base}/v1/orgs/org0/audit?action=worker.change&page_size=500`, {
    headers: { Authorization: `Bearer ${await tokenOf(p2)}` },
  })).json();
  const change = audit.entries.find((e) => e.target === 'workers/W000004');
  assert.equal(change?.actor, 'appr1', JSON.stringify(audit.entries));
  assert.equal(change.after.bank_account, now);
  await checker.close();
  // HR's list shows the upload done.
  await page.reload();
  await page.getByRole('row').filter({ hasText: 'workers.csv' }).locator('.badge.done').waitFor();
  await ctx.close();
});

/** Amounts as the console shows them (₹) or as the API sends them (a decimal with two places);
 * a version like `v2026.04` is not an amount. */
const AMOUNT = /₹|(?<![v\d.])\d[\d,]*\.\d{2}\b/;

test('ops_viewer sees runs and dead letters but no amount on any page', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'ops1');
  const pages = [
    ['runs', '#/runs', 'tr[data-run]'],
    ['run-ops', `#/runs/${finalRun}`, 'text=Payslip notices'],
    ['periods-ops', '#/periods', 'tr[data-period="2026-10"] .badge.locked'],
    ['schedule-ops', '#/schedule', 'h1'],
  ];
  for (const [name, hash, ready] of pages) {
    await page.goto(`${env.base}/${hash}`);
    await page.locator(ready).first().waitFor();
    const text = await page.locator('body').innerText();
    assert.doesNotMatch(text, AMOUNT, `${name} shows an amount:\n${text}`);
    if (name === 'run-ops') {
      // Where and why of each refused line, but not the refused amount itself.
      await page.locator('#dead-letters tbody tr').first().waitFor();
      const letters = await page.locator('#dead-letters').innerText();
      assert.match(letters, /sideways/);
      assert.match(letters, /amount\s+withheld: the value is an amount/);
      assert.doesNotMatch(letters, /731/);
    }
    await page_done(page, name);
  }
  const nav = await page.locator('#nav').innerText();
  assert.doesNotMatch(nav, /Adjustments|Uploads|Audit|Roles|My pay/);
  await ctx.close();
});

test('an analyst reads the workers and results of a run without personal data', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'an1');
  await page.goto(`${env.base}/#/runs/${finalRun}`);
  await page.getByRole('row', { name: 'Worker W000000' }).waitFor();
  const text = await page.locator('main').innerText();
  assert.match(text, /₹\d/, 'amounts, anonymized');
  assert.doesNotMatch(text, /Worker 0\b|Dead letters|Payouts and notices/);
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Results CSV' }).click(),
  ]);
  const header = readFileSync(await csv.path(), 'utf8').split('\n')[0].split(',');
  assert.ok(header.includes('net_pay'), `${header}`);
  for (const personal of ['name', 'uan', 'esic_no', 'bank_account_masked', 'pan_masked']) {
    assert.ok(!header.includes(personal), `the analyst's results carry ${personal}`);
  }
  await page_done(page, 'run-analyst');
  const nav = await page.locator('#nav').innerText();
  assert.doesNotMatch(nav, /Adjustments|Uploads|Audit|Roles|My pay/);
  await ctx.close();
});

test('a worker sees only their own pay and payslip, on a 360 px phone without horizontal scroll', async () => {
  const ctx = await context(env, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await signIn(env, page, 'W000000');
  await page.goto(`${env.base}/#/mypay`);
  await page.locator('#net-pay').waitFor();
  // It opens on their newest pay, October's final run, whatever the date; their periods are
  // listed newest first, with the payslip ready.
  assert.equal(await page.locator('#pay-period').innerText(), 'Pay of 2026-10');
  const periods = page.locator('#periods tbody tr');
  assert.equal(await periods.count(), 1);
  assert.deepEqual(await periods.first().locator('td').allInnerTexts(), ['2026-10', 'final', 'ready']);
  const token = await tokenOf(page);
  const own = await (await fetch(`${env.base}/v1/orgs/org0/workers/W000000/pay?period=2026-10`, {
    headers: { Authorization: `Bearer ${token}` },
  })).json();
  const shown = await page.locator('#net-pay').innerText();
  const expected = await page.evaluate(async (net) => (await import('/console/format.js')).rupees(net), own.pay.net_pay);
  assert.equal(shown, expected);
  await page.getByRole('heading', { name: 'Breakdown' }).waitFor();
  // On a phone the payslip opens in the browser's own viewer: no unreadable inline frame.
  const open = page.getByRole('link', { name: 'Open payslip (PDF)' });
  await open.waitFor();
  assert.equal(await page.locator('iframe.pdf').count(), 0);
  const [viewer] = await Promise.all([page.waitForEvent('popup'), open.click()]);
  assert.match(viewer.url(), /^blob:/);
  await viewer.close();
  const other = await fetch(`${env.base}/v1/orgs/org0/workers/W000002/pay?period=2026-10`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(other.status, 403);
  const nav = await page.locator('#nav').innerText();
  assert.equal(nav.trim(), 'My pay');
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(widths[0] <= widths[1], `horizontal scroll at 360 px: ${widths}`);
  await page_done(page, 'mypay-phone');
  await page.goto(`${env.base}/#/runs`);
  await page.getByText('do not include this page').waitFor();
  await ctx.close();
});

test('HR pages fit a 360 px phone too', async () => {
  const ctx = await context(env, { viewport: { width: 360, height: 740 }, isMobile: true });
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  for (const [name, hash, ready] of [
    ['runs-phone', '#/runs', 'tr[data-run]'],
    ['run-phone', `#/runs/${finalRun}`, 'text=Timeline'],
    ['uploads-phone', '#/uploads', '#drop'],
  ]) {
    await page.goto(`${env.base}/${hash}`);
    await page.locator(ready).first().waitFor();
    const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `${name}: horizontal scroll at 360 px (${scroll} > ${inner})`);
    await shot(page, name);
  }
  // HR downloads the statutory returns of the finalized run.
  await page.goto(`${env.base}/#/runs/${finalRun}`);
  await page.getByRole('button', { name: 'EPFO ECR (text)' }).waitFor();
  const [ecr] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'EPFO ECR (text)' }).click(),
  ]);
  assert.ok(readFileSync(await ecr.path(), 'utf8').includes('#~#'), 'an ECR file');
  // And the register and the results, from the same page.
  const [register] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Payroll register (XLSX)' }).click(),
  ]);
  assert.equal(readFileSync(await register.path()).subarray(0, 2).toString(), 'PK', 'an XLSX (zip) file');
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Results CSV' }).click(),
  ]);
  const header = readFileSync(await csv.path(), 'utf8').split('\n')[0];
  assert.match(header, /worker_id/);
  assert.match(header, /net_pay/);
  await ctx.close();
});

test('HR reads the insights: the figures the API gives, in charts with tables; an analyst too', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await signIn(env, page, 'hr1');
  const token = await tokenOf(page);
  // Provisional runs of September and November beside October's final one: three periods.
  for (const period of ['2026-09', '2026-11']) {
    const asked = await fetch(`${env.base}/v1/orgs/org0/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `insights-${period}` },
      body: JSON.stringify({ period, kind: 'provisional' }),
    });
    const text = await asked.text();
    assert.equal(asked.status, 202, text);
    const { id } = JSON.parse(text);
    let status;
    for (let i = 0; i < 600 && status !== 'calculated'; i += 1) {
      ({ status } = await (await fetch(`${env.base}/v1/orgs/org0/runs/${id}`, { headers: { Authorization: `Bearer ${token}` } })).json());
      assert.ok(['queued', 'calculating', 'calculated'].includes(status), status);
      if (status !== 'calculated') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'calculated', `the ${period} run within 60 s`);
  }
  await page.goto(`${env.base}/#/insights`);
  await page.locator('tr[data-site]').first().waitFor();
  // Figures as the console formats money (its own format.js).
  const rupees = (value) => page.evaluate(async (v) => (await import('/console/format.js')).rupees(v), value);
  const insights = await (await fetch(`${env.base}/v1/orgs/org0/insights`, {
    headers: { Authorization: `Bearer ${token}` },
  })).json();
  assert.deepEqual(insights.periods.map((p) => p.period), ['2026-09', '2026-10', '2026-11']);
  const latest = insights.periods.at(-1);
  // The per-period table shows each period's total and its change from the one before.
  const perPeriod = page.getByRole('table', { name: 'Per period' });
  for (const [i, p] of insights.periods.entries()) {
    const cells = await perPeriod.locator('tbody tr').nth(i).locator('td').allInnerTexts();
    assert.equal(cells[0], p.period);
    assert.equal(cells[3], await rupees(p.total.employer_cost));
    assert.equal(cells[4], p.total.change ? await rupees(p.total.change.employer_cost) : '—');
  }
  for (const site of latest.sites) {
    const cells = await page.locator(`tr[data-site="${site.site_id}"] td`).allInnerTexts();
    assert.deepEqual(cells.slice(0, 4), [site.site_id, String(site.headcount), await rupees(site.net), await rupees(site.employer_cost)]);
  }
  const total = await page.getByRole('table', { name: 'The period in total' }).locator('tbody td').allInnerTexts();
  assert.equal(total[2], await rupees(latest.total.net));
  // Three trend lines, the bars by site and the heatmap: SVG with a title each, no outside asset.
  const charts = page.locator('svg.chart');
  assert.equal(await charts.count(), 5);
  for (const title of await charts.locator('title').allTextContents()) assert.ok(title.length > 0, 'every chart has a title');
  // Files mode: no stream, so no live board (the API answers 409 and the page leaves it out).
  assert.equal(await page.locator('#today table').count(), 0);
  const days = insights.heatmap.sites.reduce((n, site) => n + site.days.length, 0);
  assert.equal(await page.locator('svg.heatmap rect').count(), days);
  assert.equal(await page.locator('svg.chart rect.bar').count(), latest.sites.length);
  await page_done(page, 'insights');
  // The heatmap of another period, chosen in the form: October's, as the API gives it.
  const form = page.getByRole('form', { name: 'Insights range' });
  await form.locator('input[name=heatmap]').fill('2026-10');
  await form.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('heading', { name: 'Attendance by day, 2026-10' }).waitFor();
  const october = await (await fetch(`${env.base}/v1/orgs/org0/insights?heatmap=2026-10`, {
    headers: { Authorization: `Bearer ${token}` },
  })).json();
  const cell = october.heatmap.sites[0].days[4];
  const title = `${october.heatmap.sites[0].site_id} ${cell.date}: ${cell.attended} of ${cell.workers}`;
  assert.deepEqual(await page.locator('svg.heatmap rect title').filter({ hasText: title }).allTextContents(), [title]);
  await page_done(page, 'insights-october');
  await ctx.close();

  const phone = await context(env, { viewport: { width: 360, height: 780 } });
  const p2 = await phone.newPage();
  await signIn(env, p2, 'an1');
  await p2.goto(`${env.base}/#/insights`);
  await p2.locator('tr[data-site]').first().waitFor();
  const wide = await p2.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(wide, false, 'the insights page scrolls sideways on a phone');
  await page_done(p2, 'insights-analyst-phone');
  await phone.close();
});

test("HR watches today's attendance live: the board the API gives, and a punch produced now shows without a reload", async () => {
  // A service of its own in stream mode, over a broker the sample month was produced to.
  const live = await start({ stream: true });
  try {
    const ctx = await context(live);
    const page = await ctx.newPage();
    await signIn(live, page, 'hr1');
    await page.goto(`${live.base}/#/insights`);
    // The newest day with a punch, not the pages' clock, is the board's day.
    await page.getByRole('heading', { name: 'Today, 2026-10-31' }).waitFor({ timeout: 60_000 });
    const token = await tokenOf(page);
    const cells = ['checked_in', 'present', 'late', 'missed_punch'];
    const fromApi = async () => {
      const today = await (await fetch(`${live.base}/v1/orgs/org0/insights/today`, {
        headers: { Authorization: `Bearer ${token}` },
      })).json();
      return [...today.sites, { site_id: 'Total', ...today.total }].map((r) => [r.site_id, ...cells.map((c) => String(r[c]))]);
    };
    const shown = () => page.locator('#today table tbody tr').evaluateAll((rows) =>
      rows.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.trim())));
    // The board fills as each shard's first update lands: the page follows it to the API's.
    const same = async (want) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [api, page] = [await fromApi(), await shown()];
        if (JSON.stringify(api) === JSON.stringify(page) && (!want || want(api))) return api;
        if (Date.now() > deadline) {
          assert.deepEqual(page, api, 'the live board on the page is the API\'s');
          assert.fail(`the board never showed what was expected: ${JSON.stringify(api)}`);
        }
        await new Promise((ok) => setTimeout(ok, 250));
      }
    };
    // The board is whole once every shard's first update landed: no change for three of the
    // stream's live ticks (1 s each). Taken sooner, a site may be missing or counted in part.
    const settled = async () => {
      const deadline = Date.now() + 60_000;
      let [last, since] = [null, Date.now()];
      for (;;) {
        const now = await same();
        if (JSON.stringify(now) !== JSON.stringify(last)) [last, since] = [now, Date.now()];
        else if (Date.now() - since >= 3000) return now;
        assert.ok(Date.now() < deadline, `the board kept changing for a minute: ${JSON.stringify(now)}`);
        await new Promise((ok) => setTimeout(ok, 250));
      }
    };
    const before = await settled();
    assert.ok(before.length > 1, 'a row per site and the total');
    const s03 = (rows) => Number(rows.find(([site]) => site === 'S03')[1]);
    assert.ok(before.some(([site]) => site === 'S03'), JSON.stringify(before));
    await page_done(page, 'insights-live');

    // W000014 (org0, S03) begins a night shift: checked in now, on the page by its events.
    const reloads = [];
    page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) reloads.push(frame.url()); });
    const punch = mkdtempSync(join(tmpdir(), 'payroll-punch-'));
    writeFileSync(join(punch, 'attendance.ndjson'), `${JSON.stringify({
      event_id: 'console-night-in', worker_id: 'W000014', ts: '2026-10-31T16:00:00Z', direction: 'in',
    })}\n`);
    const produced = Date.now();
    produce(live, punch);
    rmSync(punch, { recursive: true, force: true });
    await same((rows) => s03(rows) === s03(before) + 1);
    figures.push(`a produced punch showed on the console's live board after ${((Date.now() - produced) / 1000).toFixed(2)} s (live_every 1 s)`);
    assert.deepEqual(reloads, [], 'the board changed without a reload');
    await ctx.close();
  } catch (e) {
    throw await explained(live, e);
  } finally {
    await live.stop();
  }
});

test('the embedded demo signs in with one button per role', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'payroll-demo-'));
  // No config file: with one it is an operator's service, not the demo.
  const demo = await serve(null, dir, ['--listen', '127.0.0.1:0', '--data', join(dir, 'data')]);
  try {
    const ctx = await context(env);
    const page = await ctx.newPage();
    await page.goto(`${demo.base}/`);
    await page.getByRole('button', { name: 'Sign in as hr admin' }).waitFor();
    await page_done(page, 'signin-demo');
    await page.getByRole('button', { name: 'Sign in as hr admin' }).click();
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    assert.match(await page.locator('#who').innerText(), /demo-hr_admin/);
    await ctx.close();
  } finally {
    demo.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the sign-in page of a provider-configured service', async () => {
  const ctx = await context(env);
  const page = await ctx.newPage();
  await page.goto(`${env.base}/`);
  await page.getByRole('button', { name: 'Sign in with your company account' }).waitFor();
  await page_done(page, 'signin-oidc');
  await ctx.close();
  writeFileSync(join(repo, 'target/console-screenshots/README.txt'),
    `Screenshots of the console from service/console/tests (${new Date().toISOString()}).\n${figures.join('\n')}\n`);
});
