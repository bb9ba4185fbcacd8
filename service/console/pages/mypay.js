// A worker's own pay: it opens on their newest pay (a final run's before a provisional one),
// with the net pay, the component breakdown and the payslip, and lists their past periods,
// newest first. Laid out for a phone first.

import { api } from '../api.js';
import { isMoneyCategory, rupees, when } from '../format.js';
import { attempt, clear, h, kv, money, table } from '../ui.js';
import { payslip } from './run.js';

export async function render(main, { me, signal }) {
  const worker = `/v1/orgs/${me.org}/workers/${encodeURIComponent(me.sub)}`;
  const out = h('div', { id: 'pay' });
  const show = async (period) => {
    const pay = await api(`${worker}/pay?period=${period}`, { signal })
      .catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    if (!pay) {
      clear(out, h('p', { class: 'muted' }, `No pay calculated for ${period}.`));
      return;
    }
    const parts = [
      h('h2', { id: 'pay-period' }, `Pay of ${pay.period}`),
      h('div', { class: 'card' }, h('div', { class: 'label' }, pay.provisional ? 'Net pay so far (provisional)' : 'Net pay (final)'),
        h('div', { class: 'big', id: 'net-pay' }, rupees(pay.pay.net_pay))),
      kv([['As of', when(pay.as_of)], pay.worker_error && ['Note', pay.worker_error]]),
    ];
    const runBase = pay.run_id ? `/v1/orgs/${me.org}/runs/${pay.run_id}` : null;
    const explanation = runBase
      ? await api(`${runBase}/workers/${encodeURIComponent(me.sub)}/explain`, { signal }).catch(() => null)
      : null;
    if (explanation) {
      const shown = explanation.components.filter((c) => isMoneyCategory(c.category) && c.value !== null);
      parts.push(h('h3', {}, 'Breakdown'), table([
        { title: 'Component', get: (c) => c.label ?? c.name },
        { title: 'Kind', narrow: true, get: (c) => c.category },
        { title: 'Amount', num: true, get: (c) => money(c.value) },
      ], shown));
    }
    if (runBase && !pay.provisional) parts.push(await payslip(runBase, me.sub));
    clear(out, parts);
  };

  const history = h('div', { id: 'periods' });
  const more = h('div', {});
  let periods = [];
  const load = async (token) => {
    const q = new URLSearchParams({ page_size: '6' });
    if (token) q.set('page_token', token);
    const page = await api(`${worker}/periods?${q}`, { signal });
    periods = periods.concat(page.periods);
    clear(history, table([
      { title: 'Period', get: (p) => p.period },
      { title: 'Pay', get: (p) => (p.provisional ? 'provisional' : 'final') },
      { title: 'Payslip', get: (p) => (p.payslip ? 'ready' : '—') },
    ], periods, {
      caption: 'Choose a period to see its pay',
      rowLabel: (p) => `Pay of ${p.period}`,
      onRow: (p) => attempt(() => show(p.period)),
    }));
    clear(more, page.next_page_token
      ? h('button', { onclick: () => attempt(() => load(page.next_page_token)) }, 'Older periods')
      : null);
  };
  await load(null);
  if (!periods.length) {
    clear(main, h('h1', {}, 'My pay'), h('p', { class: 'muted' }, 'No pay has been calculated for you yet.'));
    return;
  }
  clear(main, h('h1', {}, 'My pay'), out, h('h2', {}, 'My periods'), history, more);
  await show(periods[0].period);
}
