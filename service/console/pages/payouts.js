// Payouts, statutory returns and payslip notices of a finalized final run: make a payout and
// download its bank files, record the bank's return file and approve or reject one another
// person recorded (only an approved return is paid again), download the EPFO and ESIC returns,
// follow each worker's notice and send a failed one again. Each part is shown only to the roles
// whose permissions it needs.

import { api, download, postFile } from '../api.js';
import { count, when } from '../format.js';
import { ask, attempt, badge, clear, h, kv, money, newestAnswer, table, toast } from '../ui.js';

export function payoutsAndNotices(me, can, base, run, signal) {
  const section = h('section', { 'aria-label': 'Payouts and notices' });
  const parts = [];

  if (can('payouts:create') || can('payouts:view')) {
    const card = h('div', { id: 'payout' });
    // A payout's bank returns: recorded by one person, paid again only once another person
    // with payouts:approve approves them.
    const returnsOf = (p) => {
      const box = h('div', { id: 'returns' });
      if (!(can('payouts:view') || can('payouts:approve'))) return box;
      const decide = async (r, what) => {
        const text = `Return ${r.seq} of payout ${p.seq}: ${count(r.payments)} payments, ${money(r.total)}, recorded by ${r.recorded_by}.`;
        const answer = what === 'approve'
          ? await ask('Approve this return?', `${text} The next payout pays them again.`, { confirm: 'Approve' })
          : await ask('Reject this return?', text, { confirm: 'Reject', danger: true, fields: [{ name: 'reason', label: 'Reason' }] });
        if (!answer) return;
        const body = what === 'approve' ? {} : { reason: answer.reason };
        const done = await attempt(() => api(r.links[what], { method: 'POST', body }));
        if (done) {
          toast(what === 'approve'
            ? `Return ${done.seq} approved: the next payout pays its ${count(done.payments)} payments again`
            : `Return ${done.seq} rejected`);
          const fresh = await attempt(() => api(p.links.self, { signal }));
          if (fresh) show(fresh);
          if (can('payouts:view')) await attempt(loadPayouts);
        }
      };
      const action = (r) => {
        if (r.status !== 'pending') return r.rejection ? h('span', { class: 'muted' }, r.rejection) : '';
        if (r.recorded_by === me.sub) return h('span', { class: 'muted' }, 'Waiting for another person’s approval');
        if (!can('payouts:approve')) return h('span', { class: 'muted' }, 'Waiting for approval');
        return h('span', { class: 'row' },
          h('button', { class: 'primary', onclick: () => decide(r, 'approve') }, 'Approve'),
          h('button', { class: 'danger', onclick: () => decide(r, 'reject') }, 'Reject…'));
      };
      const load = newestAnswer(() => api(`${p.links.returns}?page_size=100`, { signal }), (page) => {
        clear(box, page.returns.length ? table([
          { title: 'Return', get: (r) => `Return ${r.seq}` },
          { title: 'Workers', narrow: true, get: (r) => r.references.map((x) => x.worker_id).join(', ') },
          { title: 'Payments', num: true, get: (r) => count(r.payments) },
          { title: 'Total', num: true, get: (r) => money(r.total) },
          { title: 'Status', get: (r) => badge(r.status) },
          { title: 'Recorded', narrow: true, get: (r) => `${r.recorded_by}, ${when(r.recorded_at)}` },
          { title: '', get: action },
        ], page.returns, { caption: 'Bank returns: paid again once another person approves' }) : null);
      });
      box.reload = load;
      attempt(load);
      return box;
    };
    const show = (p) => {
      const returns = returnsOf(p);
      clear(card, h('div', { class: 'panel' },
        h('h3', {}, `Payout ${p.seq}`),
        kv([
          ['Id', p.id],
          ['Payments', count(p.payments)],
          ['Total', money(p.total)],
          ['Exceptions (not paid)', count(p.exceptions)],
          ['Returned by the bank (approved)', count(p.returned)],
          ['Made by', `${p.created_by}, ${when(p.created_at)}`],
        ]),
        h('div', { class: 'row' },
          h('button', { onclick: () => attempt(() => download(p.links.neft)) }, 'NEFT file (CSV)'),
          h('button', { onclick: () => attempt(() => download(p.links.pain001)) }, 'pain.001 (XML)'),
          p.exceptions > 0 ? h('button', { onclick: () => attempt(() => download(p.links.exceptions)) }, 'Exceptions (CSV)') : null),
        can('payouts:create') ? h('label', {}, 'Bank return file (CSV)', h('input', { type: 'file', accept: '.csv', onchange: async (e) => {
          const file = e.target.files[0];
          if (!file) return;
          const r = await attempt(() => postFile(p.links.returns, file, 'text/csv'));
          e.target.value = '';
          if (r) {
            toast(`Return ${r.seq} recorded: ${count(r.payments)} payments, waiting for another person’s approval`);
            await attempt(returns.reload);
          }
        } })) : null,
        returns));
    };
    // The run's payouts, first made first; choosing one shows its files.
    const listed = h('div', {});
    const loadPayouts = newestAnswer(() => api(`${base}/payouts?page_size=100`, { signal }), (page) => {
      clear(listed, page.payouts.length ? table([
        { title: 'Payout', get: (p) => `Payout ${p.seq}` },
        { title: 'Payments', num: true, get: (p) => count(p.payments) },
        { title: 'Total', num: true, get: (p) => money(p.total) },
        { title: 'Returned', num: true, narrow: true, get: (p) => count(p.returned) },
        { title: 'Made', narrow: true, get: (p) => when(p.created_at) },
      ], page.payouts, { onRow: show, rowLabel: (p) => `Show payout ${p.seq}` })
        : h('p', { class: 'muted' }, 'No payout of this run yet.'));
    });
    const make = can('payouts:create') ? h('button', { class: 'primary', onclick: async () => {
      const ok = await ask('Make a payout?',
        `Pays every worker of org ${me.org} whose net pay for ${run.period} is not paid yet, to the account the worker master has now.`,
        { confirm: 'Make payout' });
      if (!ok) return;
      const p = await attempt(() => api(`${base}/payouts`, { method: 'POST', key: crypto.randomUUID() }));
      if (p) {
        toast(`Payout ${p.seq}: ${count(p.payments)} payments`);
        show(p);
        if (can('payouts:view')) await attempt(loadPayouts);
      }
    } }, 'Make payout…') : null;
    parts.push(h('h3', {}, 'Payouts'));
    if (make) parts.push(h('div', { class: 'row' }, make));
    if (can('payouts:view')) parts.push(listed);
    parts.push(card);
    if (can('payouts:view')) attempt(loadPayouts);
  }

  if (can('returns:download')) {
    const file = (label, name) => h('button', { onclick: () => attempt(() => download(`${base}/returns/${name}`)) }, label);
    parts.push(h('h3', {}, 'Statutory returns'),
      h('div', { class: 'row' }, file('EPFO ECR (text)', 'ecr.txt'), file('ESIC (XLSX)', 'esic.xlsx'), file('Exceptions (CSV)', 'exceptions.csv')));
  }

  if (can('notices:view')) {
    const list = h('div', { id: 'notices' }, h('p', { class: 'muted' }, 'Loading…'));
    const load = newestAnswer(() => api(`${base}/notices?page_size=100`, { signal }), (page) => {
      clear(list, page.notices.length ? table([
        { title: 'Worker', get: (n) => n.worker_id },
        { title: 'Channel', get: (n) => n.channel },
        { title: 'To', narrow: true, get: (n) => n.recipient },
        { title: 'Status', get: (n) => badge(n.status) },
        { title: 'Attempts', num: true, narrow: true, get: (n) => count(n.total_attempts) },
        { title: 'Last error', narrow: true, get: (n) => n.last_error ?? '' },
        { title: '', get: (n) => (n.status === 'dead' && can('notices:retry')
          ? h('button', { onclick: async () => {
            if (await attempt(() => api(`${base}/notices/${n.id}/retry`, { method: 'POST', body: {} }))) {
              toast(`Notice to ${n.worker_id} queued again`);
              await attempt(load);
            }
          } }, 'Send again') : '') },
      ], page.notices) : h('p', { class: 'muted' }, 'No notices: none is configured, or none was due for this run.'));
    });
    parts.push(h('h3', {}, 'Payslip notices'), list);
    attempt(load);
  }

  if (!parts.length) return null;
  section.append(h('h2', {}, 'Payouts and notices'), ...parts);
  return section;
}
