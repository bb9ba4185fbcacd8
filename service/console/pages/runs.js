// Runs: the org's runs with live progress (Server-Sent Events per active run), filters, and
// triggering a provisional or final run after a confirmation that states org, period and kind.

import { api, defaultPeriod, events } from '../api.js';
import { count, when } from '../format.js';
import { ask, attempt, badge, clear, h, newestAnswer, table, toast } from '../ui.js';

const ACTIVE = ['queued', 'calculating', 'finalizing'];

export function progressCell(run) {
  const p = run.progress ?? {};
  if (!ACTIVE.includes(run.status) && run.status !== 'calculated' && run.status !== 'finalized') return '—';
  if (p.workers_total > 0) {
    return h('span', { class: 'progress' },
      h('progress', { max: p.workers_total, value: p.workers_done, 'aria-label': `workers ${p.workers_done} of ${p.workers_total}` }),
      ` ${count(p.workers_done)} / ${count(p.workers_total)}`);
  }
  return p.stage || '…';
}

export async function render(main, { me, can, signal }) {
  const filters = { period: '', kind: '', status: '' };
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const streams = new Map();

  const watch = (run) => {
    if (streams.has(run.id) || !ACTIVE.includes(run.status)) return;
    streams.set(run.id, true);
    (async () => {
      try {
        for await (const { data } of events(`/v1/orgs/${me.org}/runs/${run.id}/events`, signal)) {
          const row = list.querySelector(`tr[data-run="${run.id}"]`);
          if (!row) continue;
          const updated = { ...run, status: data.status, progress: data.progress ?? run.progress };
          clear(row.querySelector('.status'), badge(data.status));
          clear(row.querySelector('.progress-cell'), progressCell(updated));
        }
      } catch (e) {
        if (e.name !== 'AbortError') toast(`live progress of run ${run.id}: ${e.message}`, true);
      }
      streams.delete(run.id);
    })();
  };

  const load = newestAnswer(async () => {
    const q = new URLSearchParams({ page_size: '50' });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const started = performance.now();
    return { started, page: await api(`/v1/orgs/${me.org}/runs?${q}`, { signal }) };
  }, ({ started, page }) => {
    const t = table([
      { title: 'Period', get: (r) => h('a', { href: `#/runs/${r.id}` }, r.period) },
      { title: 'Kind', get: (r) => r.kind },
      { title: 'Status', get: (r) => h('span', { class: 'status' }, badge(r.status)) },
      { title: 'Progress', get: (r) => h('span', { class: 'progress-cell' }, progressCell(r)) },
      { title: 'Requested by', narrow: true, get: (r) => r.requested_by },
      { title: 'Created', narrow: true, get: (r) => when(r.created_at) },
    ], page.runs);
    page.runs.forEach((r, i) => t.querySelectorAll('tbody tr')[i].setAttribute('data-run', r.id));
    clear(list, page.runs.length ? t : h('p', { class: 'muted' }, 'No runs match.'));
    list.dataset.renderedMs = String(Math.round(performance.now() - started));
    page.runs.forEach(watch);
  });

  const filterBar = h('form', { class: 'row panel', 'aria-label': 'Filter runs', onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    for (const k of Object.keys(filters)) filters[k] = f.get(k) ?? '';
    attempt(load);
  } },
  h('label', {}, 'Period', h('input', { name: 'period', type: 'month' })),
  h('label', {}, 'Kind', h('select', { name: 'kind' }, ['', 'provisional', 'final'].map((k) => h('option', { value: k }, k || 'any')))),
  h('label', {}, 'Status', h('select', { name: 'status' },
    ['', 'queued', 'calculating', 'calculated', 'finalizing', 'finalized', 'rejected', 'cancelled', 'failed']
      .map((s) => h('option', { value: s }, s || 'any')))),
  h('button', { type: 'submit' }, 'Filter'));

  let trigger = null;
  if (can('runs:trigger')) {
    const suggested = await defaultPeriod(me.org, signal);
    trigger = h('form', { class: 'row panel', 'aria-label': 'Trigger a run', onsubmit: async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const period = f.get('period');
      const kind = f.get('kind');
      const ok = await ask(`Trigger a ${kind} run?`,
        `This queues a ${kind.toUpperCase()} run of org ${me.org} for the period ${period}.` +
        (kind === 'final' ? ' Once another person approves it, the period is locked and payslips are issued.' : ''),
        { confirm: `Trigger ${kind} run` });
      if (!ok) return;
      const run = await attempt(() => api(`/v1/orgs/${me.org}/runs`, { method: 'POST', body: { period, kind }, key: crypto.randomUUID() }));
      if (run) {
        toast(`${kind} run of ${period} queued`);
        watch(run);
        await attempt(load);
      }
    } },
    h('label', {}, 'Period', h('input', { name: 'period', type: 'month', value: suggested, required: true })),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: 'provisional' }, 'provisional'), h('option', { value: 'final' }, 'final'))),
    h('button', { type: 'submit', class: 'primary' }, 'Trigger run…'));
  }

  clear(main, h('h1', {}, 'Runs'), trigger, filterBar, list);
  await load();
  // Runs others trigger appear without a reload.
  const timer = setInterval(() => { if (!document.querySelector('dialog')) attempt(load); }, 15000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
