// A worker's own pay-to-date: net pay, the component breakdown and the payslip. Laid out for
// a phone first.

import { api } from '../api.js';
import { isMoneyCategory, lastPeriod, rupees, when } from '../format.js';
import { attempt, clear, h, kv, money, table } from '../ui.js';
import { payslip } from './run.js';

export async function render(main, { me, signal }) {
  const out = h('div', {});
  const show = async (period) => {
    const pay = await api(`/v1/orgs/${me.org}/workers/${encodeURIComponent(me.sub)}/pay?period=${period}`, { signal })
      .catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    if (!pay) {
      clear(out, h('p', { class: 'muted' }, `No pay calculated for ${period} yet.`));
      return;
    }
    const parts = [
      h('div', { class: 'card' }, h('div', { class: 'label' }, pay.provisional ? 'Net pay so far (provisional)' : 'Net pay (final)'),
        h('div', { class: 'big', id: 'net-pay' }, rupees(pay.pay.net_pay))),
      kv([['Period', pay.period], ['As of', when(pay.as_of)], pay.worker_error && ['Note', pay.worker_error]]),
    ];
    const runBase = pay.run_id ? `/v1/orgs/${me.org}/runs/${pay.run_id}` : null;
    const explanation = runBase
      ? await api(`${runBase}/workers/${encodeURIComponent(me.sub)}/explain`, { signal }).catch(() => null)
      : null;
    if (explanation) {
      const shown = explanation.components.filter((c) => isMoneyCategory(c.category) && c.value !== null);
      parts.push(h('h2', {}, 'Breakdown'), table([
        { title: 'Component', get: (c) => c.label ?? c.name },
        { title: 'Kind', narrow: true, get: (c) => c.category },
        { title: 'Amount', num: true, get: (c) => money(c.value) },
      ], shown));
    }
    if (runBase && !pay.provisional) parts.push(await payslip(runBase, me.sub));
    clear(out, parts);
  };
  const form = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); attempt(() => show(new FormData(e.target).get('period'))); } },
    h('label', {}, 'Month', h('input', { type: 'month', name: 'period', value: lastPeriod(), required: true })),
    h('button', { type: 'submit' }, 'Show'));
  clear(main, h('h1', {}, 'My pay'), form, out);
  await show(lastPeriod());
}
