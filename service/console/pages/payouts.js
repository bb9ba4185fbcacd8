// Payouts, statutory returns and payslip notices of a finalized final run: make a payout and
// download its bank files, record the bank's return file, download the EPFO and ESIC returns,
// follow each worker's notice and send a failed one again. Each part is shown only to the roles
// whose permissions it needs.

import { api, download, postFile } from '../api.js';
import { count, when } from '../format.js';
import { ask, attempt, badge, clear, h, kv, money, table, toast } from '../ui.js';

export function payoutsAndNotices(me, can, base, run, signal) {
  const section = h('section', { 'aria-label': 'Payouts and notices' });
  const parts = [];

  if (can('payouts:create') || can('payouts:view')) {
    const card = h('div', { id: 'payout' });
    const show = (p) => clear(card, h('div', { class: 'panel' },
      h('h3', {}, `Payout ${p.seq}`),
      kv([
        ['Id', p.id],
        ['Payments', count(p.payments)],
        ['Total', money(p.total)],
        ['Exceptions (not paid)', count(p.exceptions)],
        ['Returned by the bank', count(p.returned)],
        ['Made by', `${p.created_by}, ${when(p.created_at)}`],
      ]),
      h('div', { class: 'row' },
        h('button', { onclick: () => attempt(() => download(p.links.neft)) }, 'NEFT file (CSV)'),
        h('button', { onclick: () => attempt(() => download(p.links.pain001)) }, 'pain.001 (XML)'),
        p.exceptions > 0 ? h('button', { onclick: () => attempt(() => download(p.links.exceptions)) }, 'Exceptions (CSV)') : null),
      can('payouts:create') ? h('label', {}, 'Bank return file (CSV)', h('input', { type: 'file', accept: '.csv', onchange: async (e) => {
        const file = e.target.files[0];
        if (!file) return;
        const answer = await attempt(() => postFile(p.links.returns, file, 'text/csv'));
        if (answer) {
          toast(`${answer.returned} payments returned (${answer.already_returned} already known)`);
          show(answer.payout);
        }
      } })) : null));
    // The run's payouts, first made first; choosing one shows its files.
    const listed = h('div', {});
    const loadPayouts = async () => {
      const page = await api(`${base}/payouts?page_size=100`, { signal });
      clear(listed, page.payouts.length ? table([
        { title: 'Payout', get: (p) => `Payout ${p.seq}` },
        { title: 'Payments', num: true, get: (p) => count(p.payments) },
        { title: 'Total', num: true, get: (p) => money(p.total) },
        { title: 'Returned', num: true, narrow: true, get: (p) => count(p.returned) },
        { title: 'Made', narrow: true, get: (p) => when(p.created_at) },
      ], page.payouts, { onRow: show, rowLabel: (p) => `Show payout ${p.seq}` })
        : h('p', { class: 'muted' }, 'No payout of this run yet.'));
    };
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
    const load = async () => {
      const page = await api(`${base}/notices?page_size=100`, { signal });
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
    };
    parts.push(h('h3', {}, 'Payslip notices'), list);
    attempt(load);
  }

  if (!parts.length) return null;
  section.append(h('h2', {}, 'Payouts and notices'), ...parts);
  return section;
}
