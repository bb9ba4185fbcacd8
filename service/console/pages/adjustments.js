// Adjustments inbox: request one (maker), approve or reject another person's with a reason
// (checker), or every pending request of someone else's upload at once. Amounts are typed and
// sent as decimal strings.

import { api, defaultPeriod } from '../api.js';
import { count, when } from '../format.js';
import { ask, attempt, badge, clear, h, money, newestAnswer, table, toast } from '../ui.js';

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

  /** Decides every pending request of an upload: thousands are not approved one by one. */
  const decideUpload = async (upload, by, what) => {
    const text = `Every pending adjustment of upload ${upload}, uploaded by ${by}, for org ${me.org}.`;
    const answer = what === 'approve'
      ? await ask('Approve the whole upload?', text, { confirm: 'Approve all' })
      : await ask('Reject the whole upload?', text, { confirm: 'Reject all', danger: true, fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const body = what === 'approve' ? {} : { reason: answer.reason };
    const done = await attempt(() => api(`/v1/orgs/${me.org}/uploads/${upload}/${what}`, { method: 'POST', body }));
    if (done) {
      toast(`${count(done.decided)} adjustments ${done.status}`);
      await attempt(load);
    }
  };

  /** The uploads whose pending requests this page shows and the checker may decide. */
  const uploads = (adjustments) => {
    const found = new Map();
    if (!can('adjustments:approve')) return null;
    for (const a of adjustments) {
      if (a.status === 'pending' && a.upload_id && a.requested_by !== me.sub) found.set(a.upload_id, a.requested_by);
    }
    return found.size ? h('div', { class: 'panel', id: 'uploaded' }, h('h3', {}, 'Uploaded requests'), table([
      { title: 'Upload', get: ([id]) => id },
      { title: 'Uploaded by', get: ([, by]) => by },
      { title: '', get: ([id, by]) => h('span', { class: 'row' },
        h('button', { class: 'primary', onclick: () => decideUpload(id, by, 'approve') }, 'Approve all'),
        h('button', { class: 'danger', onclick: () => decideUpload(id, by, 'reject') }, 'Reject all…')) },
    ], [...found], { caption: 'Decide every pending request of an upload at once' })) : null;
  };

  const load = newestAnswer(() => {
    const q = new URLSearchParams({ page_size: '50' });
    if (status) q.set('status', status);
    return api(`/v1/orgs/${me.org}/adjustments?${q}`, { signal });
  }, (page) => {
    clear(list, uploads(page.adjustments), page.adjustments.length ? table([
      { title: 'Worker', get: (a) => a.worker_id },
      { title: 'Period', get: (a) => a.period },
      { title: 'What', get: (a) => `${a.kind} · ${a.code}` },
      { title: 'Amount', num: true, get: (a) => money(a.amount) },
      { title: 'Reason', narrow: true, get: (a) => a.reason },
      { title: 'Status', get: (a) => h('span', {}, badge(a.status), a.decision_note ? h('div', { class: 'muted' }, a.decision_note) : null) },
      { title: 'Requested', narrow: true, get: (a) => `${a.requested_by}, ${when(a.requested_at)}${a.upload_id ? ' (upload)' : ''}` },
      { title: '', get: (a) => {
        if (a.status !== 'pending' || !can('adjustments:approve')) return '';
        if (a.requested_by === me.sub) return h('span', { class: 'muted' }, 'Your request: another person decides it');
        return h('span', { class: 'row' },
          h('button', { class: 'primary', onclick: () => decide(a, 'approve') }, 'Approve'),
          h('button', { class: 'danger', onclick: () => decide(a, 'reject') }, 'Reject…'));
      } },
    ], page.adjustments) : h('p', { class: 'muted' }, 'No adjustments.'));
  });;

  const period = can('adjustments:request') ? await defaultPeriod(me.org, signal) : null;
  const request = period ? h('form', { class: 'panel', 'aria-label': 'Request an adjustment', onsubmit: async (e) => {
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
    h('label', {}, 'Period', h('input', { name: 'period', type: 'month', value: period, required: true })),
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
