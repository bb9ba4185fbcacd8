// The audit log: who did what, when, with filters; each entry chained to the one before.

import { api } from '../api.js';
import { when } from '../format.js';
import { attempt, clear, h, paged, table } from '../ui.js';

export async function render(main, { me, signal }) {
  const filters = {};
  const list = h('div', {});
  const pager = h('div', { class: 'pager' });
  const first = paged((token) => {
    const q = new URLSearchParams({ page_size: '50', ...filters });
    if (token) q.set('page_token', token);
    return api(`/v1/orgs/${me.org}/audit?${q}`, { signal });
  }, (page, _index, { previous, next }) => {
    clear(list, page.entries.length ? table([
      { title: '#', num: true, get: (e) => e.seq },
      { title: 'When', get: (e) => when(e.at) },
      { title: 'Who', get: (e) => `${e.actor} (${e.roles.join(', ')})` },
      { title: 'Action', get: (e) => e.action },
      { title: 'Target', get: (e) => e.target },
      { title: 'Change', narrow: true, get: (e) => h('div', { class: 'formula' },
        e.before ? `before ${JSON.stringify(e.before)}\n` : '', e.after ? `after ${JSON.stringify(e.after)}` : '') },
    ], page.entries) : h('p', { class: 'muted' }, 'No entries match.'));
    clear(pager,
      h('button', { disabled: !previous, onclick: previous }, 'Newer'),
      h('button', { disabled: !next, onclick: next }, 'Older'));
  });
  const form = h('form', { class: 'row panel', 'aria-label': 'Filter the audit log', onsubmit: (e) => {
    e.preventDefault();
    for (const k of Object.keys(filters)) delete filters[k];
    for (const [k, v] of new FormData(e.target)) {
      if (!v) continue;
      filters[k] = k === 'from' || k === 'until' ? new Date(v).toISOString() : v;
    }
    attempt(first);
  } },
  h('label', {}, 'Action', h('input', { name: 'action', placeholder: 'run.approve' })),
  h('label', {}, 'User', h('input', { name: 'actor' })),
  h('label', {}, 'From', h('input', { name: 'from', type: 'datetime-local' })),
  h('label', {}, 'Until', h('input', { name: 'until', type: 'datetime-local' })),
  h('button', { type: 'submit' }, 'Filter'));
  clear(main, h('h1', {}, 'Audit log'), form, list, pager);
  await first();
}
