// Roles editor (org_admin): which role may do what in this org.

import { api } from '../api.js';
import { attempt, clear, h, toast } from '../ui.js';

const PERMISSIONS = [
  ['runs:view', 'See runs'], ['runs:trigger', 'Trigger runs'], ['runs:approve', 'Approve runs'],
  ['runs:exclude', 'Exclude workers'], ['pay:view', 'See pay'], ['results:anonymized', 'Anonymized results'],
  ['payslips:download', 'Payslips'], ['register:download', 'Register'], ['dead_letters:view', 'Dead letters'],
  ['schedule:edit', 'Edit schedule'], ['pay:own', 'Own pay'], ['audit:view', 'Audit log'],
  ['adjustments:request', 'Request adjustments'], ['adjustments:approve', 'Approve adjustments'],
  ['roles:manage', 'Manage roles'], ['upload', 'Upload'],
  ['payouts:create', 'Make payouts'], ['payouts:view', 'Payout files'], ['payouts:approve', 'Approve bank returns'],
  ['workers:approve', 'Approve workers uploads'], ['returns:download', 'Statutory returns'],
  ['notices:view', 'Notices'], ['notices:retry', 'Retry notices'],
  ['findings:acknowledge', 'Acknowledge findings'], ['previews:run', 'Previews'],
];

export async function render(main, { me, signal }) {
  const roles = await api(`/v1/orgs/${me.org}/roles`, { signal });
  // A permission this console does not know yet (a newer service) is still shown, so saving a
  // role never drops it.
  const known = new Set(PERMISSIONS.map(([p]) => p));
  const columns = [...PERMISSIONS, ...[...new Set(roles.flatMap((r) => r.permissions))].filter((p) => !known.has(p)).map((p) => [p, p])];
  const save = async (role, row) => {
    const permissions = [...row.querySelectorAll('input:checked')].map((i) => i.value);
    if (await attempt(() => api(`/v1/orgs/${me.org}/roles/${encodeURIComponent(role)}`, { method: 'PUT', body: { permissions } }))) {
      toast(`Role ${role} saved`);
    }
  };
  const rows = roles.map((r) => {
    const tr = h('tr', {}, h('th', { scope: 'row' }, r.role),
      columns.map(([p, label]) => h('td', {}, h('input', { type: 'checkbox', value: p, checked: r.permissions.includes(p), 'aria-label': `${r.role}: ${label}` }))));
    tr.append(h('td', {}, h('button', { onclick: () => save(r.role, tr) }, 'Save')));
    return tr;
  });
  clear(main, h('h1', {}, 'Roles'),
    h('p', { class: 'muted' }, 'What each role may do in this org; a change applies to every token of that role within seconds.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid-perms' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Role'), columns.map(([p, label]) => h('th', { scope: 'col', title: p }, label)), h('th', { scope: 'col' }, ''))),
      h('tbody', {}, rows))));
}
