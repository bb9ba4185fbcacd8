// The org's figures at a glance (`GET /insights`): trend lines over periods (employer cost,
// overtime hours, headcount), bars by site for the newest period, and the attendance heatmap.
// Charts are SVG drawn here; each has a table of the same figures beside it, its text
// alternative. Figures are shown as the API sent them (decimal strings); a number is parsed
// only to place a point or a bar. A figure withheld from this reader (fewer than 5 workers)
// shows as "withheld".

import { ApiError, api, download, events } from '../api.js';
import { count, rupees } from '../format.js';
import { attempt, clear, h, table } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element: `s('rect', {x: 1})`. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const W = 320;
const H = 140;
const PAD = { left: 8, right: 8, top: 12, bottom: 22 };

/** A line over the periods of `points` (`{label, value}`; value null when withheld). */
function lineChart(title, points) {
  const values = points.map((p) => (p.value === null ? null : Number(p.value)));
  const known = values.filter((v) => v !== null);
  const max = Math.max(...known, 0) || 1;
  const min = Math.min(...known, 0);
  const x = (i) => PAD.left + (points.length === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (points.length - 1));
  const y = (v) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - (v - min) / (max - min || 1));
  const path = values.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter(Boolean).join(' ');
  return s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title} by period`, class: 'chart' },
    s('title', {}, `${title} by period`),
    s('line', { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: 'axis' }),
    s('polyline', { points: path, class: 'line' }),
    values.map((v, i) => (v === null ? null : s('circle', { cx: x(i), cy: y(v), r: 3, class: 'dot' }))),
    points.map((p, i) => (i === 0 || i === points.length - 1
      ? s('text', { x: x(i), y: H - 6, 'text-anchor': i === 0 ? 'start' : 'end', class: 'tick' }, p.label)
      : null)));
}

/** Horizontal bars, one per site. */
function barChart(title, bars) {
  const max = Math.max(...bars.map((b) => (b.value === null ? 0 : Number(b.value))), 0) || 1;
  const row = 22;
  const height = bars.length * row + 4;
  return s('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': title, class: 'chart' },
    s('title', {}, title),
    bars.map((b, i) => [
      s('text', { x: 0, y: i * row + 15, class: 'tick' }, b.label),
      b.value === null
        ? s('text', { x: 48, y: i * row + 15, class: 'tick' }, 'withheld')
        : s('rect', { x: 48, y: i * row + 4, height: 14, width: Math.max(1, ((W - 56) * Number(b.value)) / max), class: 'bar' }),
    ]));
}

/** Attendance rate per site and day, darker where more attended. */
function heatmap(map) {
  const days = [...new Set(map.sites.flatMap((site) => site.days.map((d) => d.date)))].sort();
  const cell = Math.max(6, Math.floor((W - 48) / Math.max(days.length, 1)));
  const height = map.sites.length * 16 + 18;
  const width = 48 + days.length * cell;
  return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart heatmap',
    'aria-label': `Attendance rate by site and day, ${map.period}` },
  s('title', {}, `Attendance rate by site and day, ${map.period}`),
  map.sites.map((site, r) => [
    s('text', { x: 0, y: r * 16 + 12, class: 'tick' }, site.site_id),
    site.days.map((d) => {
      const c = days.indexOf(d.date);
      const shade = d.rate === null ? 'withheld' : `q${Math.min(4, Math.floor(Number(d.rate) * 5))}`;
      return s('rect', { x: 48 + c * cell, y: r * 16 + 2, width: cell - 1, height: 14, class: `heat ${shade}` },
        s('title', {}, `${site.site_id} ${d.date}: ${d.rate === null ? 'withheld' : `${d.attended} of ${d.workers}`}`));
    }),
  ]),
  s('text', { x: 48, y: height - 2, class: 'tick' }, days[0] ?? ''),
  s('text', { x: width, y: height - 2, 'text-anchor': 'end', class: 'tick' }, days[days.length - 1] ?? ''));
}

/** A table that may be wider than a phone: its scrolling region takes the keyboard focus. */
function wide(columns, rows, caption) {
  const wrap = table(columns, rows, { caption });
  wrap.setAttribute('tabindex', '0');
  wrap.setAttribute('role', 'region');
  wrap.setAttribute('aria-label', caption);
  return wrap;
}

const withheld = (v, show) => (v === null || v === undefined ? h('span', { class: 'muted' }, 'withheld') : show(v));
const rate = (v) => `${(Number(v) * 100).toFixed(1)} %`;

/** Today's attendance per site, live in stream mode: `GET .../insights/today`, then its events. */
async function liveBoard(board, me, signal) {
  const path = `/v1/orgs/${me.org}/insights/today`;
  const show = (today) => clear(board,
    h('h2', {}, `Today, ${today.date ?? 'no punch yet'}`),
    h('p', { class: 'muted' }, `Live from the stream${today.as_of ? `, as of ${new Date(today.as_of).toLocaleTimeString('en-IN')}` : ''}; late means a first punch after ${today.late_after}.`),
    wide([
      { title: 'Site', get: (r) => r.site_id },
      { title: 'Checked in now', get: (r) => withheld(r.checked_in, count), num: true },
      { title: 'Present so far', get: (r) => withheld(r.present, count), num: true },
      { title: 'Late', get: (r) => withheld(r.late, count), num: true },
      { title: 'Missed punches', get: (r) => withheld(r.missed_punch, count), num: true },
    ], [...today.sites, { site_id: 'Total', ...today.total }], 'Attendance today'));
  try {
    show(await api(path, { signal }));
  } catch (e) {
    // Files mode: there is no stream, so no live board; the page shows the periods only.
    if (e instanceof ApiError && e.status === 409) return;
    throw e;
  }
  board.setAttribute('data-live', 'true');
  for await (const { event, data } of events(`${path}/events`, signal)) {
    if (event === 'today') show(data);
  }
}

export async function render(main, { me, signal }) {
  const q = new URLSearchParams();
  const url = () => `/v1/orgs/${me.org}/insights${q.size ? `?${q}` : ''}`;
  const body = h('div', {});
  const form = h('form', { class: 'row panel', 'aria-label': 'Insights range', onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    for (const key of ['from', 'until', 'site', 'heatmap']) {
      if (data.get(key)) q.set(key, data.get(key)); else q.delete(key);
    }
    attempt(load);
  } },
  h('label', {}, 'From', h('input', { type: 'month', name: 'from' })),
  h('label', {}, 'Until', h('input', { type: 'month', name: 'until' })),
  h('label', {}, 'Site', h('input', { type: 'text', name: 'site', size: 6 })),
  h('label', {}, 'Heatmap of', h('input', { type: 'month', name: 'heatmap' })),
  h('button', { type: 'submit' }, 'Show'));
  const load = async () => {
    const data = await api(url(), { signal });
    if (!data.periods.length) {
      clear(body, h('p', { class: 'muted' }, 'No period has a calculated run yet.'));
      return;
    }
    const latest = data.periods[data.periods.length - 1];
    const trend = (get) => data.periods.map((p) => ({ label: p.period, value: get(p.total) }));
    const csvQuery = (table) => { const c = new URLSearchParams(q); c.set('table', table); return c; };
    clear(body,
      h('h2', {}, `${latest.period} (run ${latest.run_kind}${latest.locked ? ', locked' : ''})`),
      wide([
        { title: 'Headcount', get: (t) => withheld(t.headcount, count), num: true },
        { title: 'Gross', get: (t) => withheld(t.gross, rupees), num: true },
        { title: 'Net', get: (t) => withheld(t.net, rupees), num: true },
        { title: 'Employer cost', get: (t) => withheld(t.employer_cost, rupees), num: true },
        { title: 'OT hours', get: (t) => withheld(t.ot_hours, String), num: true },
        { title: 'LOP days', get: (t) => withheld(t.lop_days, String), num: true },
        { title: 'Attendance', get: (t) => withheld(t.attendance_rate, rate), num: true },
      ], [latest.total], 'The period in total'),
      h('h2', {}, 'Trends'),
      h('div', { class: 'charts' },
        h('figure', {}, lineChart('Employer cost', trend((t) => t.employer_cost)), h('figcaption', {}, 'Employer cost')),
        h('figure', {}, lineChart('Overtime hours', trend((t) => t.ot_hours)), h('figcaption', {}, 'Overtime hours')),
        h('figure', {}, lineChart('Headcount', trend((t) => t.headcount)), h('figcaption', {}, 'Headcount'))),
      wide([
        { title: 'Period', get: (p) => p.period },
        { title: 'Run', get: (p) => h('a', { href: `#/runs/${p.run_id}` }, p.run_kind) },
        { title: 'Headcount', get: (p) => withheld(p.total.headcount, count), num: true },
        { title: 'Employer cost', get: (p) => withheld(p.total.employer_cost, rupees), num: true },
        { title: 'Change', get: (p) => (p.total.change?.employer_cost ? rupees(p.total.change.employer_cost) : '—'), num: true },
        { title: 'OT hours', get: (p) => withheld(p.total.ot_hours, String), num: true },
      ], data.periods, 'Per period'),
      h('h2', {}, `Sites, ${latest.period}`),
      h('figure', {}, barChart(`Employer cost by site, ${latest.period}`,
        latest.sites.map((site) => ({ label: site.site_id, value: site.employer_cost }))),
      h('figcaption', {}, 'Employer cost by site')),
      wide([
        { title: 'Site', get: (site) => site.site_id },
        { title: 'Headcount', get: (site) => withheld(site.headcount, count), num: true },
        { title: 'Net', get: (site) => withheld(site.net, rupees), num: true },
        { title: 'Employer cost', get: (site) => withheld(site.employer_cost, rupees), num: true },
        { title: 'OT hours', get: (site) => withheld(site.ot_hours, String), num: true },
        { title: 'LOP days', get: (site) => withheld(site.lop_days, String), num: true },
        { title: 'Attendance', get: (site) => withheld(site.attendance_rate, rate), num: true },
      ], latest.sites, 'Per site'),
      data.heatmap ? [
        h('h2', {}, `Attendance by day, ${data.heatmap.period}`),
        h('figure', {}, heatmap(data.heatmap), h('figcaption', {}, 'Share of the site\'s workers present each day; the table below lists each day.')),
        h('details', {}, h('summary', {}, 'Attendance by site and day, as a table'),
          wide([
            { title: 'Site', get: (r) => r.site },
            { title: 'Date', get: (r) => r.date },
            { title: 'Workers', get: (r) => withheld(r.workers, count), num: true },
            { title: 'Attended', get: (r) => withheld(r.attended, String), num: true },
          ], data.heatmap.sites.flatMap((site) => site.days.map((d) => ({ site: site.site_id, ...d }))), 'Attendance by site and day')),
      ] : null,
      h('div', { class: 'row' },
        h('button', { onclick: () => attempt(() => download(`/v1/orgs/${me.org}/insights.csv?${csvQuery('sites')}`)) }, 'Sites CSV'),
        h('button', { onclick: () => attempt(() => download(`/v1/orgs/${me.org}/insights.csv?${csvQuery('heatmap')}`)) }, 'Heatmap CSV')));
    body.querySelectorAll('table')[2]?.querySelectorAll('tbody tr')
      .forEach((tr, i) => tr.setAttribute('data-site', latest.sites[i].site_id));
  };
  const board = h('section', { 'aria-label': 'Attendance today', id: 'today' });
  clear(main, h('h1', {}, 'Insights'), board,
    h('p', { class: 'muted' }, 'Each period shows its locking final run, else its latest calculated run.'),
    form, body);
  attempt(() => liveBoard(board, me, signal));
  await load();
}
