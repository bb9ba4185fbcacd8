// Period status: open, or locked by which approved final run and when.

import { api } from '../api.js';
import { lastPeriod, when } from '../format.js';
import { attempt, badge, clear, h, table } from '../ui.js';

function previous(period, n) {
  const [y, m] = period.split('-').map(Number);
  const d = new Date(y, m - 1 - n, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

export async function render(main, { me, signal }) {
  const list = h('div', {});
  const show = async (latest) => {
    const periods = Array.from({ length: 6 }, (_, i) => previous(latest, i));
    const rows = await Promise.all(periods.map((p) => api(`/v1/orgs/${me.org}/periods/${p}`, { signal })));
    clear(list, table([
      { title: 'Period', get: (p) => p.period },
      { title: 'Status', get: (p) => badge(p.status) },
      { title: 'Locked by run', get: (p) => (p.locked_by ? h('a', { href: `#/runs/${p.locked_by}` }, p.locked_by) : '—') },
      { title: 'Locked at', get: (p) => when(p.locked_at) },
    ], rows));
  };
  const form = h('form', { class: 'row panel', onsubmit: (e) => {
    e.preventDefault();
    attempt(() => show(new FormData(e.target).get('period')));
  } },
  h('label', {}, 'Up to period', h('input', { type: 'month', name: 'period', value: lastPeriod(), required: true })),
  h('button', { type: 'submit' }, 'Show'));
  clear(main, h('h1', {}, 'Periods'), h('p', { class: 'muted' }, 'A period is locked when its final run is approved; what arrives later for it is paid as arrears.'), form, list);
  await show(lastPeriod());
}
