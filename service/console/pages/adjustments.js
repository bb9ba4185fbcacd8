// Adjustments inbox: request one (maker), approve or reject another person's with a reason
// (checker). Amounts are typed and sent as decimal strings.

import { api } from '../api.js';
import { lastPeriod, when } from '../format.js';
import { ask, attempt, badge, clear, h, money, table, toast } from '../ui.js';

export async function render(main, { me, can, signal }) {
  let status = can('adjustments:approve') ? 'pending' : '';
  const list = h('div', {});

  const decide = async (a, what) => {
    const answer = what === 'approve'
      ? await ask('Approve this adjustment?', `${a.kind} ${a.code} of ₹${a.amount} for ${a.worker_id} in ${a.period}, requested by ${a.requested_by}.`, { confirm: 'Approve' })
      : await ask('Reject this adjustment?', `${a.kind} ${a.code} for ${a.worker_id} in ${a.period}.`, { confirm: 'Reject', danger: true, fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const body = what === 'approve' ? {} : { reason: answer.reason };
    if (await attempt(() => api(`/v1/orgs/${me.org}/adjustments/${a.id}/${what}`, { method: 'POST', body }))) {
      toast(`Adjustment ${what === 'approve' ? 'approved' : 'rejected'}`);
      await attempt(load);
    }
  };

  const load = async () => {
    const q = new URLSearchParams({ page_size: '50' });
    if (status) q.set('status', status);
    const page = await api(`/v1/orgs/${me.org}/adjustments?${q}`, { signal });
    clear(list, page.adjustments.length ? table([
      { title: 'Worker', get: (a) => a.worker_id },
      { title: 'Period', get: (a) => a.period },
      { title: 'What', get: (a) => `${a.kind} · ${a.code}` },
      { title: 'Amount', num: true, get: (a) => money(a.amount) },
      { title: 'Reason', narrow: true, get: (a) => a.reason },
      { title: 'Status', get: (a) => h('span', {}, badge(a.status), a.decision_note ? h('div', { class: 'muted' }, a.decision_note) : null) },
      { title: 'Requested', narrow: true, get: (a) => `${a.requested_by}, ${when(a.requested_at)}` },
      { title: '', get: (a) => {
        if (a.status !== 'pending' || !can('adjustments:approve')) return '';
        if (a.requested_by === me.sub) return h('span', { class: 'muted' }, 'Your request: another person decides it');
        return h('span', { class: 'row' },
          h('button', { class: 'primary', onclick: () => decide(a, 'approve') }, 'Approve'),
          h('button', { class: 'danger', onclick: () => decide(a, 'reject') }, 'Reject…'));
      } },
    ], page.adjustments) : h('p', { class: 'muted' }, 'No adjustments.'));
  };

  const request = can('adjustments:request') ? h('form', { class: 'panel', 'aria-label': 'Request an adjustment', onsubmit: async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(e.target));
    const made = await attempt(() => api(`/v1/orgs/${me.org}/adjustments`, { method: 'POST', body, key: crypto.randomUUID() }));
    if (made) {
      toast('Requested: it waits for another person’s approval');
      e.target.reset();
      await attempt(load);
    }
  } },
  h('h2', {}, 'Request an adjustment'),
  h('div', { class: 'row' },
    h('label', {}, 'Worker id', h('input', { name: 'worker_id', required: true, autocomplete: 'off' })),
    h('label', {}, 'Period', h('input', { name: 'period', type: 'month', value: lastPeriod(), required: true })),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: 'earning' }, 'earning'), h('option', { value: 'deduction' }, 'deduction'))),
    h('label', {}, 'Code', h('input', { name: 'code', required: true, pattern: '[A-Za-z0-9_]+', placeholder: 'bonus' })),
    h('label', {}, 'Amount (₹)', h('input', { name: 'amount', required: true, inputmode: 'decimal', pattern: '[0-9]+(\\.[0-9]{1,2})?', placeholder: '1500.00' })),
    h('label', {}, 'Reason', h('input', { name: 'reason', required: true })),
    h('button', { type: 'submit', class: 'primary' }, 'Request'))) : null;

  const filter = h('label', {}, 'Status', h('select', { onchange: (e) => { status = e.target.value; attempt(load); } },
    ['pending', 'approved', 'rejected', ''].map((s) => h('option', { value: s, selected: s === status }, s || 'any'))));

  clear(main, h('h1', {}, 'Adjustments'), request, h('h2', {}, can('adjustments:approve') ? 'Inbox' : 'Requests'), h('div', { class: 'row' }, filter), list);
  await load();
}
