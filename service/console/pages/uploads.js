// Uploads: drag and drop (or choose) a spreadsheet of summaries, adjustments or workers; the
// upload's progress, its counts, and its error report.

import { api, download, upload } from '../api.js';
import { count, when } from '../format.js';
import { attempt, badge, clear, h, table, toast } from '../ui.js';

export async function render(main, { me, signal }) {
  const list = h('div', {});
  const status = h('div', { 'aria-live': 'polite' });
  const kind = h('select', { name: 'kind' }, ['summaries', 'adjustments', 'workers'].map((k) => h('option', { value: k }, k)));
  const mode = h('select', { name: 'mode' }, h('option', { value: 'accept_valid' }, 'apply the valid rows'), h('option', { value: 'all_or_nothing' }, 'all rows or none'));
  const input = h('input', { type: 'file', accept: '.csv,.xlsx', 'aria-label': 'Spreadsheet to upload' });

  const report = (u) => h('span', { class: 'row' },
    u.rejected > 0 ? h('button', { onclick: () => attempt(() => download(u.links.errors_csv)) }, 'Error report (CSV)') : null,
    u.rejected > 0 ? h('button', { onclick: () => attempt(() => download(u.links.errors_xlsx)) }, 'Error report (XLSX)') : null);

  const load = async () => {
    const page = await api(`/v1/orgs/${me.org}/uploads?page_size=20`, { signal });
    clear(list, page.uploads.length ? table([
      { title: 'File', get: (u) => u.file_name },
      { title: 'Kind', get: (u) => u.kind },
      { title: 'Status', get: (u) => badge(u.status) },
      { title: 'Rows', num: true, get: (u) => count(u.rows) },
      { title: 'Accepted', num: true, get: (u) => count(u.accepted) },
      { title: 'Rejected', num: true, get: (u) => count(u.rejected) },
      { title: 'When', narrow: true, get: (u) => when(u.created_at) },
      { title: 'Errors', get: report },
    ], page.uploads) : h('p', { class: 'muted' }, 'No uploads yet.'));
  };

  const send = async (file) => {
    const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
    clear(status, h('p', {}, `Uploading ${file.name} `, bar));
    const made = await attempt(() => upload(`/v1/orgs/${me.org}/uploads?kind=${kind.value}&mode=${mode.value}`, file, crypto.randomUUID(), (f) => { bar.value = f; }));
    if (!made) { clear(status); return; }
    // Checked and applied in the background: poll until it settles.
    let u = made;
    while (!['done', 'failed'].includes(u.status) && !signal.aborted) {
      clear(status, h('p', {}, `Checking ${file.name}: `, badge(u.status), ` ${count(u.progress)} rows read`));
      await new Promise((r) => setTimeout(r, 500));
      u = await api(`/v1/orgs/${me.org}/uploads/${u.id}`, { signal });
    }
    clear(status, h('div', { class: u.rejected ? 'why' : 'panel', id: 'upload-result' },
      h('p', {}, `${file.name}: `, badge(u.status), ` ${count(u.rows)} rows, ${count(u.accepted)} accepted, ${count(u.rejected)} rejected, ${count(u.applied)} applied.`),
      u.message ? h('p', {}, u.message) : null, report(u)));
    toast(`${file.name}: ${u.status}`);
    await attempt(load);
  };

  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop a .xlsx or .csv file here, or choose one: '), input);
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) send(file);
  });
  input.addEventListener('change', () => { if (input.files[0]) send(input.files[0]); input.value = ''; });

  clear(main, h('h1', {}, 'Uploads'),
    h('div', { class: 'panel' }, h('div', { class: 'row' }, h('label', {}, 'Rows are', kind), h('label', {}, 'Mode', mode)), drop, status),
    h('h2', {}, 'Recent uploads'), list);
  await load();
}
