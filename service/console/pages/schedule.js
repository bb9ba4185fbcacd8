// The nightly provisional run's schedule: a cron expression in a time zone.

import { api } from '../api.js';
import { when } from '../format.js';
import { attempt, clear, h, kv, toast } from '../ui.js';

export async function render(main, { me, can, signal }) {
  const path = `/v1/orgs/${me.org}/schedule`;
  const current = await api(path, { signal }).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
  const view = current
    ? kv([['Cron', current.cron], ['Time zone', current.timezone], ['Next run', when(current.next_slot)],
      ['Last run', when(current.last_slot)], ['Changed by', `${current.updated_by}, ${when(current.updated_at)}`]])
    : h('p', { class: 'muted' }, 'No schedule: provisional runs start only when someone triggers them.');
  const editor = can('schedule:edit') ? h('form', { class: 'panel row', 'aria-label': 'Edit the schedule', onsubmit: async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(e.target));
    if (await attempt(() => api(path, { method: 'PUT', body }))) {
      toast('Schedule saved');
      await render(main, { me, can, signal });
    }
  } },
  h('label', {}, 'Cron (min hour day month weekday)', h('input', { name: 'cron', required: true, value: current?.cron ?? '0 2 * * *' })),
  h('label', {}, 'Time zone', h('input', { name: 'timezone', required: true, value: current?.timezone ?? 'Asia/Kolkata' })),
  h('button', { type: 'submit', class: 'primary' }, 'Save schedule')) : null;
  clear(main, h('h1', {}, 'Schedule'), view, editor);
}
