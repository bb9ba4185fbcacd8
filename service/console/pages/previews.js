// What-if previews: what a ruleset revision or new rates would cost, before anything changes.
// HR picks a period and uploads a ruleset (.toml) and/or a rate sheet (.csv with worker_id and
// rate); the service computes them over the period's calculated run and the page shows the
// totals per component then and under the preview, how many workers gain, lose or change
// findings, and (for those who see pay) the workers who change most. Nothing is paid or locked.

import { api, defaultPeriod } from '../api.js';
import { count, rupees } from '../format.js';
import { attempt, badge, clear, h, table, toast } from '../ui.js';

/** Workers shown, the biggest change first. */
const TOP = 20;

/** `worker_id,rate` rows of a CSV (a header row first), or why not. */
function rates(text) {
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = header.split(',').map((s) => s.trim().toLowerCase());
  const [w, r] = [names.indexOf('worker_id'), names.indexOf('rate')];
  if (w < 0 || r < 0) throw new Error('the rate sheet needs the columns worker_id and rate');
  return lines.filter((l) => l.trim()).map((l) => {
    const cells = l.split(',');
    return { worker_id: cells[w].trim(), rate: cells[r].trim() };
  });
}

export async function render(main, { me, can, signal }) {
  const base = `/v1/orgs/${me.org}/previews`;
  const result = h('section', { id: 'preview', 'aria-live': 'polite' });
  const period = await defaultPeriod(me.org, signal);

  const show = async (preview) => {
    const s = preview.summary;
    const sections = [
      h('h2', {}, `Preview of ${preview.period} `, badge(preview.status)),
      h('p', { class: 'muted' }, `Over run ${preview.base_run}, under ${preview.ruleset} ${preview.ruleset_version}`
        + (preview.rates ? `, ${count(preview.rates)} new rate(s)` : '') + '. Nothing is paid or locked.'),
    ];
    if (preview.status === 'failed') sections.push(h('p', { class: 'error' }, preview.error));
    if (s) {
      sections.push(h('div', { class: 'cards', id: 'preview-counts' },
        [['Workers', s.workers], ['Gain', s.gain], ['Lose', s.lose], ['Same', s.same], ['Findings change', s.findings_changed]]
          .map(([label, n]) => h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, count(n))))));
      sections.push(h('h3', {}, 'By component'), table([
        { title: 'Component', get: (t) => t.component.replaceAll('_', ' ') },
        { title: 'Now', num: true, get: (t) => (t.base === null ? '—' : rupees(t.base)) },
        { title: 'Preview', num: true, get: (t) => (t.preview === null ? '—' : rupees(t.preview)) },
        { title: 'Difference', num: true, get: (t) => rupees(t.difference) },
      ], s.totals, { caption: 'Totals per component, now and under the preview' }));
      sections.push(h('h3', {}, 'By site'), table([
        { title: 'Site', get: (s) => s.site_id },
        { title: 'Workers', num: true, get: (s) => count(s.workers) },
        { title: 'Net now', num: true, get: (s) => rupees(s.base) },
        { title: 'Net in preview', num: true, get: (s) => rupees(s.preview) },
        { title: 'Difference', num: true, get: (s) => rupees(s.difference) },
      ], s.sites, { caption: 'Net pay per site, now and under the preview' }));
      if (can('pay:view')) {
        const page = await api(`${base}/${preview.id}/workers?page_size=${TOP}`, { signal });
        sections.push(h('h3', {}, 'Workers who change most'), table([
          { title: 'Worker', get: (w) => w.worker_id },
          { title: 'Net now', num: true, get: (w) => (w.base_net === null ? '—' : rupees(w.base_net)) },
          { title: 'Net in preview', num: true, get: (w) => (w.preview_net === null ? '—' : rupees(w.preview_net)) },
          { title: 'Difference', num: true, get: (w) => rupees(w.difference) },
        ], page.workers, { caption: `The ${count(page.workers.length)} of ${count(page.total)} workers who change most` }));
      }
    }
    clear(result, sections);
  };

  /** Polls a preview until it is done or failed, showing where it is. */
  const follow = async (id) => {
    for (;;) {
      const preview = await api(`${base}/${id}`, { signal });
      if (preview.status === 'done' || preview.status === 'failed') return show(preview);
      clear(result, h('p', { class: 'muted' }, `Preview ${preview.status}…`));
      await new Promise((ok) => setTimeout(ok, 300));
    }
  };

  const form = h('form', { class: 'panel', 'aria-label': 'Ask for a preview', onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    const body = { period: data.get('period') };
    const ruleset = data.get('ruleset');
    const sheet = data.get('rates');
    try {
      if (ruleset && ruleset.size) body.ruleset = await ruleset.text();
      if (sheet && sheet.size) body.rates = rates(await sheet.text());
    } catch (err) {
      toast(err.message, true);
      return;
    }
    const asked = await attempt(() => api(base, { method: 'POST', body }));
    if (asked) {
      toast('Preview asked: calculating');
      await attempt(() => follow(asked.id));
    }
  } },
  h('label', {}, 'Period', h('input', { name: 'period', type: 'month', value: period, required: true })),
  h('label', {}, 'Ruleset to preview (.toml; the org\'s own if none)', h('input', { name: 'ruleset', type: 'file', accept: '.toml' })),
  h('label', {}, 'New rates (.csv: worker_id, rate)', h('input', { name: 'rates', type: 'file', accept: '.csv' })),
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Preview')));

  clear(main, h('h1', {}, 'Previews'),
    h('p', { class: 'muted' }, 'What a ruleset revision or new rates would cost, over the period\'s calculated run, before anything changes.'),
    form, result);
}
