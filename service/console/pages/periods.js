// The org's periods with pay calculated, newest first: open, or locked by which approved final
// run and when.

import { api } from '../api.js';
import { when } from '../format.js';
import { attempt, badge, clear, h, table } from '../ui.js';

/** The period after `period` (`YYYY-MM`): a page token lists the periods before it. */
function after(period) {
  const [y, m] = period.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

export async function render(main, { me, signal }) {
  const list = h('div', {});
  const more = h('div', {});
  let shown = [];
  const load = async (token, fresh) => {
    const q = new URLSearchParams({ page_size: '12' });
    if (token) q.set('page_token', token);
    const page = await api(`/v1/orgs/${me.org}/periods?${q}`, { signal });
    shown = fresh ? page.periods : shown.concat(page.periods);
    clear(list, shown.length ? table([
      { title: 'Period', get: (p) => p.period },
      { title: 'Status', get: (p) => badge(p.status) },
      { title: 'Locked by run', get: (p) => (p.locked_by ? h('a', { href: `#/runs/${p.locked_by}` }, p.locked_by) : '—') },
      { title: 'Locked at', get: (p) => when(p.locked_at) },
    ], shown) : h('p', { class: 'muted' }, 'No period has a calculated run yet.'));
    shown.forEach((p, i) => list.querySelectorAll('tbody tr')[i].setAttribute('data-period', p.period));
    clear(more, page.next_page_token
      ? h('button', { onclick: () => attempt(() => load(page.next_page_token, false)) }, 'Older periods')
      : null);
  };
  const form = h('form', { class: 'row panel', 'aria-label': 'Periods up to', onsubmit: (e) => {
    e.preventDefault();
    attempt(() => load(after(new FormData(e.target).get('period')), true));
  } },
  h('label', {}, 'Up to period', h('input', { type: 'month', name: 'period', required: true })),
  h('button', { type: 'submit' }, 'Show'));
  clear(main, h('h1', {}, 'Periods'), h('p', { class: 'muted' }, 'A period is locked when its final run is approved; what arrives later for it is paid as arrears.'), form, list, more);
  await load(null, true);
}
