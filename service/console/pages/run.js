// One run: status timeline (who, when), totals, dead letters and worker errors with reasons,
// its findings (what its checks found, filtered, acknowledged with a reason), approve or reject
// (a final run's maker is told why they cannot: four-eyes; an open block finding holds it),
// downloads, a searchable paginated table of workers and a drawer with a worker's explain trace
// and payslip.

import { api, download, events, fetchBlob } from '../api.js';
import { count, isMoneyCategory, rupees, when } from '../format.js';
import { ask, attempt, badge, clear, drawer, h, kv, money, paged, table, toast } from '../ui.js';
import { payoutsAndNotices } from './payouts.js';
import { progressCell } from './runs.js';

const PAGE = 50;
/** Result columns shown in the workers table; amounts only where the caller may see them. */
const AMOUNTS = [['gross', 'Gross'], ['total_deductions', 'Deductions'], ['net_pay', 'Net pay']];
/** Totals that count workers (flags) rather than sum money. */
const isFlag = (name) => /^(below_|is_)|_applicable$|_flag$/.test(name);
/** Totals of inputs that are days, hours or rates rather than money paid. */
const isQuantity = (name) => /(_days|_hours|_minutes)$|^days_|^rate$/.test(name);

export async function render(main, { me, can, params, signal }) {
  const id = params[0];
  const base = `/v1/orgs/${me.org}/runs/${id}`;
  const seesPay = can('pay:view') || can('results:anonymized');

  const draw = async () => {
    const started = performance.now();
    const run = await api(base, { signal });
    const sections = [
      h('h1', {}, `Run of ${run.period} `, h('span', { class: 'muted' }, `(${run.kind})`), ' ', badge(run.status)),
      kv([
        ['Run', run.id],
        ['Requested by', run.requested_by],
        ['Progress', h('span', { id: 'run-progress' }, progressCell(run))],
        run.rows !== undefined && ['Workers', count(run.rows)],
        run.ruleset && ['Ruleset', `${run.ruleset.name} v${run.ruleset.version}`],
        run.error && ['Error', h('span', { class: 'error' }, run.error)],
      ]),
      actions(run),
      h('h2', {}, 'Timeline'),
      h('ol', { class: 'timeline' }, (run.transitions ?? []).map((t) =>
        h('li', {}, badge(t.status), ` ${when(t.at)} · ${t.actor}`, t.note ? h('div', { class: 'muted' }, `“${t.note}”`) : null))),
    ];
    if (run.totals) {
      sections.push(h('h2', {}, 'Totals'), h('div', { class: 'cards' }, Object.entries(run.totals).filter(([k]) => k !== 'rate').map(([k, v]) =>
        h('div', { class: 'card' }, h('div', { class: 'label' }, k.replaceAll('_', ' ')),
          h('div', { class: 'value' }, isFlag(k) ? `${count(v)} workers` : isQuantity(k) ? v : rupees(v))))));
    }
    if (run.dead_letters) {
      sections.push(h('h2', {}, `Dead letters (${count(run.dead_letter_count ?? 0)})`),
        Object.keys(run.dead_letters).length
          ? [table([{ title: 'Source', get: ([s]) => s }, { title: 'Refused lines', num: true, get: ([, n]) => count(n) }], Object.entries(run.dead_letters)),
              deadLetters()]
          : h('p', { class: 'muted' }, Object.keys(run.source?.offsets ?? {}).length
            // A run over a stream's state: the stream refused events as they came.
            ? 'None in the run: events the stream refused are on its <topic>.dlq topics, counted in /metrics.'
            : 'None: every input line of this org was accepted.'));
      if (run.unattributed_dead_letters) {
        sections.push(h('p', { class: 'muted', id: 'unattributed' },
          `Refused lines naming no worker of the master: ${count(run.unattributed_dead_letters)}, set aside for the operator and shown to no org.`));
      }
    }
    if (run.worker_errors) {
      const we = run.worker_errors;
      sections.push(h('h2', {}, `Workers not computed (${count(we.workers)})`));
      if (we.unexcluded) sections.push(h('p', { class: 'why' }, `${count(we.unexcluded)} not yet excluded: a final run is approved only once each is excluded.`));
      if (we.first?.length) {
        sections.push(table([
          { title: 'Worker', get: (e) => e.worker_id },
          { title: 'Component', get: (e) => e.component },
          { title: 'Reason', get: (e) => e.reason },
          { title: 'Excluded', get: (e) => {
            if (e.excluded) return `by ${e.excluded.excluded_by}: ${e.excluded.reason}`;
            if (!(can('runs:exclude') && run.kind === 'final' && run.status === 'calculated')) return 'no';
            return h('button', { onclick: () => exclude(run, e.worker_id) }, 'Exclude…');
          } },
        ], we.first));
      }
    }
    if (run.findings) sections.push(findings(run));
    if (['calculated', 'finalizing', 'finalized'].includes(run.status)) {
      sections.push(h('h2', {}, 'Downloads'), downloads(run));
      if (seesPay) sections.push(h('h2', {}, 'Workers'), workers(run));
    }
    if (run.status === 'finalized' && run.kind === 'final') {
      sections.push(payoutsAndNotices(me, can, base, run, signal));
    }
    clear(main, sections);
    main.dataset.renderedMs = String(Math.round(performance.now() - started));
    if (['queued', 'calculating', 'finalizing'].includes(run.status)) live(run);
  };

  const live = (run) => {
    (async () => {
      try {
        for await (const { data } of events(`${base}/events`, signal)) {
          const cell = document.getElementById('run-progress');
          if (cell) clear(cell, progressCell({ ...run, ...data, progress: data.progress ?? run.progress }));
        }
      } catch (e) {
        if (e.name === 'AbortError') return;
      }
      // The stream ends once the run settles: show what it settled to.
      if (!signal.aborted) await attempt(draw);
    })();
  };

  const actions = (run) => {
    const box = h('div', { class: 'row', id: 'run-actions' });
    if (run.kind === 'final' && run.status === 'calculated') {
      if (can('runs:approve')) {
        const own = run.requested_by === me.sub;
        const blocks = openBlocks(run);
        const blocked = own
          ? 'You triggered this run, so another person must approve or reject it (four-eyes).'
          : run.worker_errors?.unexcluded
            ? `${count(run.worker_errors.unexcluded)} workers could not be computed; exclude them before approving.`
            : blocks
              ? `${count(blocks)} open block findings: acknowledge each with a reason (or exclude its worker) before approving.`
              : null;
        box.append(
          h('button', { class: 'primary', disabled: Boolean(blocked), onclick: () => decide(run, 'approve') }, 'Approve'),
          h('button', { class: 'danger', disabled: own, onclick: () => decide(run, 'reject') }, 'Reject…'));
        if (blocked) box.append(h('p', { class: 'why', id: 'cannot-approve' }, blocked));
      } else if (can('runs:trigger')) {
        box.append(h('p', { class: 'why', id: 'cannot-approve' },
          run.requested_by === me.sub
            ? 'Waiting for an approver: you triggered this run, so another person with the approver role approves it (four-eyes).'
            : 'Waiting for an approver: your roles may not approve runs.'));
      }
    }
    if (can('runs:trigger') && ['queued', 'calculating'].includes(run.status)) {
      box.append(h('button', { onclick: async () => {
        if (!await ask('Cancel this run?', `Cancels the ${run.kind} run of ${me.org} for ${run.period}.`, { confirm: 'Cancel run', danger: true })) return;
        if (await attempt(() => api(`${base}/cancel`, { method: 'POST', body: {} }))) await attempt(draw);
      } }, 'Cancel run'));
    }
    return box;
  };

  /** Open findings of severity block: each holds a final run's approval. */
  const openBlocks = (run) => (run.findings ?? []).filter((c) => c.severity === 'block').reduce((n, c) => n + c.open, 0);

  /** What the run's checks found: per check and severity, then each finding with filters, a
   * page at a time; an approver acknowledges one, or every open one of a check, saying why. */
  const findings = (run) => {
    const open = run.findings.reduce((n, c) => n + c.open, 0);
    const total = run.findings.reduce((n, c) => n + c.count, 0);
    const acknowledging = can('findings:acknowledge') && run.kind === 'final' && run.status === 'calculated';
    const box = h('section', { id: 'findings', 'aria-label': 'Findings' },
      h('h2', {}, `Findings (${count(open)} open of ${count(total)})`));
    if (!total) {
      box.append(h('p', { class: 'muted' }, 'None: no check fired for any worker of this run.'));
      return box;
    }
    box.append(table([
      { title: 'Check', get: (c) => c.check.replaceAll('_', ' ') },
      { title: 'Severity', get: (c) => badge(c.severity) },
      { title: 'Findings', num: true, get: (c) => count(c.count) },
      { title: 'Open', num: true, get: (c) => count(c.open) },
      { title: '', get: (c) => (acknowledging && c.open
        ? h('button', { onclick: () => acknowledgeCheck(c) }, 'Acknowledge all…') : '') },
    ], run.findings, { caption: 'Findings per check' }));
    const filters = { check: '', severity: '', status: '' };
    const choose = (name, label, values) => h('label', {}, label,
      h('select', { name, onchange: (e) => { filters[name] = e.target.value; list.load(); } },
        h('option', { value: '' }, 'all'), values.map((v) => h('option', { value: v }, v.replaceAll('_', ' ')))));
    box.append(h('div', { class: 'row', role: 'group', 'aria-label': 'Filter findings' },
      choose('check', 'Check ', [...new Set(run.findings.map((c) => c.check))]),
      choose('severity', 'Severity ', ['block', 'warn', 'info']),
      choose('status', 'Status ', ['open', 'acknowledged', 'excluded'])));
    const list = pages(`${base}/findings`, () => filters, [
      { title: 'Worker', get: (f) => f.worker_id },
      { title: 'Check', get: (f) => f.check.replaceAll('_', ' ') },
      { title: 'Severity', narrow: true, get: (f) => badge(f.severity) },
      { title: 'Finding', get: (f) => f.message },
      { title: 'Status', get: (f) => (f.status === 'acknowledged'
        ? `acknowledged by ${f.acknowledged_by}: ${f.reason}`
        : acknowledging && f.status === 'open'
          ? h('button', { onclick: () => acknowledgeOne(f) }, 'Acknowledge…')
          : f.status) },
    ], 'findings', 'Findings of this run');
    box.append(list.box);
    return box;
  };

  /** A table of a listing's pages, loaded again when its filters change. */
  const pages = (path, filters, columns, key, caption) => {
    const box = h('div', { id: `${key}-list` });
    const load = async (token) => {
      const params = new URLSearchParams({ page_size: String(PAGE) });
      for (const [k, v] of Object.entries(filters())) if (v) params.set(k, v);
      if (token) params.set('page_token', token);
      const page = await api(`${path}?${params}`, { signal });
      const shown = table(columns, page[key], { caption });
      if (token) box.querySelector('tbody').append(...shown.querySelectorAll('tbody tr'));
      else clear(box, page[key].length ? shown : h('p', { class: 'muted' }, 'No finding matches.'));
      box.querySelector('.more')?.remove();
      if (page.next_page_token) {
        box.append(h('button', { class: 'more', onclick: () => attempt(() => load(page.next_page_token)) }, 'More'));
      }
    };
    attempt(() => load());
    return { box, load: () => attempt(() => load()) };
  };

  const acknowledgeOne = async (f) => {
    const answer = await ask(`Acknowledge finding ${f.id} of ${f.worker_id}?`,
      `${f.message}. Say why the run may go on; the approver sees who acknowledged it and why.`,
      { confirm: 'Acknowledge', fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    if (await attempt(() => api(`${base}/findings/${f.id}/acknowledge`, { method: 'POST', body: { reason: answer.reason } }))) {
      toast(`Finding ${f.id} acknowledged`);
      await attempt(draw);
    }
  };

  const acknowledgeCheck = async (c) => {
    const label = c.check.replaceAll('_', ' ');
    const answer = await ask(`Acknowledge every open “${label}” finding?`,
      `${count(c.open)} open findings of this run. Say why the run may go on; the approver sees who acknowledged them and why.`,
      { confirm: 'Acknowledge', fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const done = await attempt(() => api(`${base}/findings/acknowledge`, { method: 'POST', body: { check: c.check, reason: answer.reason } }));
    if (done) {
      toast(`${count(done.acknowledged)} findings acknowledged`);
      await attempt(draw);
    }
  };

  /** Leaves a worker the run could not compute out of it, saying how they will be paid. */
  const exclude = async (run, worker) => {
    const answer = await ask(`Exclude ${worker} from this run?`,
      `${worker} gets no pay or payslip from the final run of ${me.org} for ${run.period}; say how they will be paid.`,
      { confirm: 'Exclude', fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const body = { worker_ids: [worker], reason: answer.reason };
    if (await attempt(() => api(`${base}/exclusions`, { method: 'POST', body }))) {
      toast(`${worker} excluded`);
      await attempt(draw);
    }
  };

  const decide = async (run, what) => {
    const answer = what === 'approve'
      ? await ask('Approve this final run?', `Approving the final run of org ${me.org} for ${run.period} locks the period and issues payslips.`, { confirm: 'Approve' })
      : await ask('Reject this final run?', `Rejects the final run of org ${me.org} for ${run.period}.`, { confirm: 'Reject', danger: true, fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const body = what === 'approve' ? {} : { reason: answer.reason };
    if (await attempt(() => api(`${base}/${what}`, { method: 'POST', body }))) {
      toast(what === 'approve' ? 'Approved: payslips are being issued' : 'Rejected');
      await attempt(draw);
    }
  };

  /** Each refused line with where it was and why, a page at a time. */
  const deadLetters = () => {
    const box = h('div', { id: 'dead-letters' },
      h('div', { class: 'row' }, h('button', { onclick: () => attempt(() => download(`${base}/dead-letters.csv`)) }, 'Refused lines (CSV)')));
    const more = async (token) => {
      const params = new URLSearchParams({ page_size: String(PAGE) });
      if (token) params.set('page_token', token);
      const page = await api(`${base}/dead-letters?${params}`, { signal });
      box.querySelector('.more')?.remove();
      const shown = table([
        { title: 'Source', get: (l) => l.source },
        { title: 'Where', get: (l) => (l.line !== undefined ? `line ${l.line}` : `row ${l.row}`) },
        { title: 'Field', get: (l) => l.field ?? '—' },
        { title: 'Reason', get: (l) => l.reason ?? 'withheld: the value is an amount' },
      ], page.dead_letters, { caption: 'Refused lines and why' });
      // Later pages add their rows to the first page's table.
      const rows = box.querySelector('tbody');
      if (rows) rows.append(...shown.querySelectorAll('tbody tr'));
      else box.append(shown);
      if (page.next_page_token) {
        box.append(h('button', { class: 'more', onclick: () => attempt(() => more(page.next_page_token)) }, 'More dead letters'));
      }
    };
    attempt(() => more());
    return box;
  };

  const downloads = (run) => {
    const finalized = run.status === 'finalized';
    const button = (label, path) => h('button', { onclick: () => attempt(() => download(path)) }, label);
    return h('div', { class: 'row' },
      seesPay ? button('Results CSV', `${base}/results.csv`) : null,
      seesPay ? button('Results Parquet', `${base}/results.parquet`) : null,
      can('pay:view') ? button('Variance vs last period (XLSX)', `${base}/variance.xlsx`) : null,
      finalized && can('register:download') ? button('Payroll register (XLSX)', `${base}/register.xlsx`) : null,
      !seesPay && !(finalized && can('register:download')) ? h('p', { class: 'muted' }, 'Your roles download no files of this run.') : null);
  };

  const workers = (run) => {
    const box = h('div', { id: 'workers' });
    let q = '';
    const body = h('div', {});
    const pager = h('div', { class: 'pager' });
    const columns = [
      { title: 'Worker', get: (r) => r.worker_id },
      { title: 'Name', get: (r) => r.name ?? '—' },
      { title: 'Site', narrow: true, get: (r) => r.site_name ?? r.site_id },
      { title: 'Days', num: true, narrow: true, get: (r) => r.present_days ?? '—' },
      ...AMOUNTS.map(([k, t]) => ({ title: t, num: true, get: (r) => money(r[k]) })),
    ];
    // Measured from the newest request, the only one whose answer is shown.
    let started;
    const first = paged((token) => {
      const params = new URLSearchParams({ page_size: String(PAGE) });
      if (token) params.set('page_token', token);
      if (q) params.set('q', q);
      started = performance.now();
      return api(`${base}/results?${params}`, { signal });
    }, (page, index, { previous, next }) => {
      clear(body, page.rows.length
        ? table(columns, page.rows, { onRow: (r) => openWorker(run, r), rowLabel: (r) => `Worker ${r.worker_id}` })
        : h('p', { class: 'muted' }, q ? `No worker matches “${q}”.` : 'No workers.'));
      box.dataset.renderedMs = String(Math.round(performance.now() - started));
      clear(pager,
        h('button', { disabled: !previous, onclick: previous }, 'Previous'),
        h('span', {}, page.rows.length
          ? `Workers ${count(index * PAGE + 1)}–${count(index * PAGE + page.rows.length)}${!q && run.rows ? ` of ${count(run.rows)}` : ''}`
          : ''),
        h('button', { disabled: !next, onclick: next }, 'Next'));
    });
    // Searched by the API over every worker of the run, by id or name.
    const search = h('form', { class: 'row', role: 'search', 'aria-label': 'Search workers', onsubmit: (e) => {
      e.preventDefault();
      q = new FormData(e.target).get('q').trim();
      attempt(first);
    } },
    h('input', { type: 'search', name: 'q', placeholder: 'Worker id or name', 'aria-label': 'Worker id or name', maxlength: 100 }),
    h('button', { type: 'submit' }, 'Search'));
    box.append(search, body, pager);
    attempt(first);
    return box;
  };

  const openWorker = async (run, row) => {
    const panel = drawer(`Worker ${row.worker_id}`, h('p', { class: 'muted' }, 'Loading…'));
    const content = [];
    if (can('pay:view')) {
      const explanation = await attempt(() => api(`${base}/workers/${encodeURIComponent(row.worker_id)}/explain`));
      if (explanation) content.push(explainView(explanation));
    } else {
      content.push(kv(Object.entries(row).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [k, String(v)])));
    }
    if (run.status === 'finalized' && can('payslips:download')) {
      content.push(await payslip(base, row.worker_id));
    }
    clear(panel, panel.querySelector('.close'), h('h2', {}, `Worker ${row.worker_id}`), content);
  };

  await draw();
}

/** A worker's explain trace: each component with its formula, the values it used, its result. */
export function explainView(e) {
  return h('section', { 'aria-label': 'Explain trace' },
    kv([['Name', e.name], ['Site', e.site_id], ['Period', e.period], ['Ruleset', `${e.ruleset} v${e.ruleset_version}`]]),
    h('h3', {}, 'How each component was computed'),
    table([
      { title: 'Component', get: (c) => h('span', {}, h('strong', {}, c.label ?? c.name), h('div', { class: 'muted' }, c.category ?? '')) },
      { title: 'Value', num: true, get: (c) => (isMoneyCategory(c.category) ? money(c.value) : String(c.value ?? '—')) },
      { title: 'Formula and inputs', get: (c) => h('div', {},
        h('div', { class: 'formula' }, c.formula ?? ''),
        c.condition ? h('div', { class: 'formula' }, `when ${c.condition}`) : null,
        h('div', { class: 'formula' }, (c.uses ?? []).map(([k, v]) => `${k} = ${v}`).join(', '))) },
    ], e.components, { caption: `Explain trace of ${e.worker_id}` }));
}

/** Below this width an inline PDF is unreadable (and phone browsers show none in a frame). */
const NARROW = '(max-width: 40rem)';

/** The payslip previewed inline (a blob URL in an iframe) with its downloads. On a phone, or a
 * browser without a PDF viewer, it opens in the browser's own viewer instead. */
export async function payslip(base, worker) {
  const box = h('section', { 'aria-label': 'Payslip' }, h('h3', {}, 'Payslip'));
  const file = await attempt(() => fetchBlob(`${base}/payslips/${encodeURIComponent(worker)}.pdf`));
  if (file) {
    const url = URL.createObjectURL(new Blob([file.blob], { type: 'application/pdf' }));
    if (navigator.pdfViewerEnabled && !matchMedia(NARROW).matches) {
      box.append(h('iframe', { class: 'pdf', src: url, title: `Payslip of ${worker} (PDF)` }));
    } else {
      box.append(h('p', {}, h('a', { class: 'button primary', href: url, target: '_blank', rel: 'noopener', id: 'open-payslip' }, 'Open payslip (PDF)')));
    }
  }
  box.append(h('div', { class: 'row' },
    h('button', { onclick: () => attempt(() => download(`${base}/payslips/${encodeURIComponent(worker)}.pdf`)) }, 'Download payslip (PDF)'),
    h('button', { onclick: () => attempt(() => download(`${base}/payslips/${encodeURIComponent(worker)}.xlsx`)) }, 'Download payslip (XLSX)')));
  return box;
}

