// Uploads: drag and drop (or choose) a spreadsheet of summaries, adjustments or workers; the
// upload's progress, its counts, and its error report. A workers upload changes nobody's master
// until a second person approves it: its review shows per worker and field the value before and
// after (bank accounts, PAN, phones and email masked by the service), with Approve and Reject
// for someone holding workers:approve who is not the uploader; the uploader is told why they
// cannot. #/uploads/<id> opens an upload's review: the address the uploader sends a reviewer.

import { api, download, upload } from '../api.js';
import { count, when } from '../format.js';
import { ask, attempt, badge, clear, h, newestAnswer, table, toast } from '../ui.js';

/** Where an upload stops on its own; a workers upload then waits for a reviewer. */
const SETTLED = ['done', 'failed', 'awaiting_approval', 'rejected'];

/** Workers of a review fetched at a time. */
const PAGE = 500;

/** A changed field's value as shown: `null` is a new worker's (nothing before). */
const value = (v) => (v === null || v === undefined ? '—' : v === '' ? '(empty)' : v);

export async function render(main, { me, can, params, signal }) {
  const uploader = can('upload');
  const reviewer = can('workers:approve');
  const base = `/v1/orgs/${me.org}/uploads`;
  const list = h('div', {});
  const inbox = h('div', { id: 'awaiting' });
  const review = h('div', { id: 'review' });
  const status = h('div', { 'aria-live': 'polite' });
  const kind = h('select', { name: 'kind' }, ['summaries', 'adjustments', 'workers'].map((k) => h('option', { value: k }, k)));
  const mode = h('select', { name: 'mode' }, h('option', { value: 'accept_valid' }, 'apply the valid rows'), h('option', { value: 'all_or_nothing' }, 'all rows or none'));
  const input = h('input', { type: 'file', accept: '.csv,.xlsx', 'aria-label': 'Spreadsheet to upload' });

  const report = (u) => [
    u.rejected > 0 ? h('button', { onclick: () => attempt(() => download(u.links.errors_csv)) }, 'Error report (CSV)') : null,
    u.rejected > 0 ? h('button', { onclick: () => attempt(() => download(u.links.errors_xlsx)) }, 'Error report (XLSX)') : null];
  const reviewButton = (u) => (u.kind === 'workers' && u.status === 'awaiting_approval'
    ? h('button', { onclick: () => attempt(() => open(u.id)) }, 'Review changes') : null);

  const load = newestAnswer(() => api(`${base}?page_size=20`, { signal }), (page) => {
    clear(list, page.uploads.length ? table([
      { title: 'File', get: (u) => u.file_name },
      { title: 'Kind', get: (u) => u.kind },
      { title: 'Status', get: (u) => h('span', {}, badge(u.status),
        u.status === 'rejected' && u.message ? h('div', { class: 'muted' }, u.message) : null) },
      { title: 'Rows', num: true, get: (u) => count(u.rows) },
      { title: 'Accepted', num: true, get: (u) => count(u.accepted) },
      { title: 'Rejected', num: true, get: (u) => count(u.rejected) },
      { title: 'When', narrow: true, get: (u) => when(u.created_at) },
      { title: 'Actions', get: (u) => h('span', { class: 'row' }, report(u), reviewButton(u)) },
    ], page.uploads) : h('p', { class: 'muted' }, 'No uploads yet.'));
  });

  /** The workers uploads awaiting the caller's decision. */
  const loadInbox = newestAnswer(() => api(`${base}?kind=workers&status=awaiting_approval&page_size=100`, { signal }), ({ uploads: found }) => {
    clear(inbox, h('h2', {}, 'Workers uploads awaiting approval'),
      found.length ? table([
        { title: 'File', get: (u) => u.file_name },
        { title: 'Uploaded by', get: (u) => u.uploaded_by },
        { title: 'When', narrow: true, get: (u) => when(u.created_at) },
        { title: '', get: reviewButton },
      ], found) : h('p', { class: 'muted' }, 'None waits for approval.'));
  });

  const reload = () => Promise.all([uploader ? attempt(load) : null, reviewer ? attempt(loadInbox) : null]);

  /** Approves or rejects the upload after a confirmation naming what, whose, and which org. */
  const decide = async (u, summary, what, shown) => {
    const text = `${summary} from ${u.file_name}, uploaded by ${u.uploaded_by}, for org ${me.org}.`;
    const answer = what === 'approve'
      ? await ask('Approve these changes?', `${text} Approving writes them to the worker master: the next run and payout use them.`, { confirm: 'Approve' })
      : await ask('Reject these changes?', `${text} Nothing is applied.`, { confirm: 'Reject', danger: true, fields: [{ name: 'reason', label: 'Reason' }] });
    if (!answer) return;
    const body = what === 'approve' ? {} : { reason: answer.reason };
    const done = await attempt(() => api(`${base}/${u.id}/${what}`, { method: 'POST', body }));
    if (!done) return;
    // The service marks an approved workers upload done (its rows applied), a rejected one rejected.
    const fresh = await attempt(() => api(`${base}/${u.id}`, { signal }));
    const now = fresh?.status ?? (what === 'approve' ? 'done' : 'rejected');
    toast(what === 'approve' ? `${count(done.decided)} workers written to the master` : 'Upload rejected: nothing is applied');
    shown.showStatus(now);
    clear(shown.actions, h('p', {}, what === 'approve'
      ? `Approved by ${me.sub}: ${count(done.decided)} workers written to the master.`
      : `Rejected by ${me.sub}: ${answer.reason}`));
    await reload();
  };

  /** The review of upload `id`: its changes, and what the caller may do about them. */
  const open = async (id) => {
    // Its own address (Back returns to the list), which the uploader sends the reviewer.
    const here = `#/uploads/${encodeURIComponent(id)}`;
    if (location.hash !== here) history.pushState(null, '', here);
    clear(review, h('p', { class: 'muted' }, 'Loading the changes…'));
    const u = await api(`${base}/${encodeURIComponent(id)}`, { signal });
    const title = h('h2', {}, `Changes of ${u.file_name}`);
    const statusSlot = h('span', { id: 'review-status' }, badge(u.status));
    const head = h('p', {}, statusSlot, ` uploaded by ${u.uploaded_by}, ${when(u.created_at)}`);
    if (u.status !== 'awaiting_approval') {
      clear(review, h('section', { class: 'panel', 'aria-label': 'Review of a workers upload' }, title, head,
        h('p', { class: 'muted' }, u.kind === 'workers' ? 'Decided: nothing waits for approval.' : 'Only a workers upload is reviewed here.')));
      return;
    }
    const changesOf = (token) => api(`${base}/${encodeURIComponent(id)}/changes?page_size=${PAGE}${token ? `&page_token=${token}` : ''}`, { signal });
    let changes;
    try {
      changes = await changesOf();
    } catch (e) {
      if (e.status !== 409) throw e;
      clear(review, h('section', { class: 'panel', 'aria-label': 'Review of a workers upload' }, title, h('p', { class: 'muted' }, e.message)));
      return;
    }
    // A page of workers at a time: a file of thousands is read in steps.
    const workers = [...changes.workers];
    let next = changes.next_page_token;
    let summary = '';
    const diff = h('div', { class: 'changes' });
    const paint = () => {
      const rows = workers.flatMap((w) => (w.fields.length ? w.fields.map((f) => ({ w, f })) : [{ w, f: null }]));
      const added = workers.filter((w) => w.new).length;
      const part = workers.length < changes.total ? ` among the first ${count(workers.length)}` : '';
      summary = `${count(changes.total)} workers (${count(added)} new, ${count(rows.filter((r) => r.f).length)} changed fields${part})`;
      clear(diff, table([
        { title: 'Worker', get: (r) => r.w.worker_id },
        { title: 'New?', narrow: true, get: (r) => (r.w.new ? 'new' : 'no') },
        { title: 'Field', get: (r) => r.f?.field ?? '(no change)' },
        { title: 'Before', get: (r) => (r.f ? value(r.f.before) : '') },
        { title: 'After', get: (r) => (r.f ? value(r.f.after) : '') },
      ], rows, { caption: `${summary}; bank accounts, PAN, phones and email masked` }),
      next ? h('button', { onclick: () => attempt(more) }, `Show the next ${count(Math.min(PAGE, changes.total - workers.length))} workers`) : null);
    };
    const more = async () => {
      const page = await changesOf(next);
      workers.push(...page.workers);
      next = page.next_page_token;
      paint();
    };
    paint();

    const own = u.uploaded_by === me.sub;
    const actions = h('div', { id: 'review-actions' });
    const shown = { actions, showStatus: (s) => clear(statusSlot, badge(s)) };
    if (reviewer) {
      actions.append(h('div', { class: 'row' },
        h('button', { class: 'primary', disabled: own, onclick: () => decide(u, summary, 'approve', shown) }, 'Approve'),
        h('button', { class: 'danger', disabled: own, onclick: () => decide(u, summary, 'reject', shown) }, 'Reject…')));
    }
    if (own || !reviewer) {
      actions.append(h('p', { class: 'why', id: 'cannot-decide' }, own
        ? 'You uploaded this file, so another person with workers:approve must approve or reject it (four-eyes).'
        : 'Waiting for a person with workers:approve to approve or reject it.'),
      h('p', { class: 'muted address' }, 'The address of this review, to send them: ',
        h('a', { href: here }, `${location.origin}/${here}`)));
    }
    clear(review, h('section', { class: 'panel', 'aria-label': 'Review of a workers upload' }, title, head, diff, actions));
    review.scrollIntoView({ block: 'nearest' });
  };

  const send = async (file) => {
    const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
    clear(status, h('p', {}, `Uploading ${file.name} `, bar));
    const made = await attempt(() => upload(`${base}?kind=${kind.value}&mode=${mode.value}`, file, crypto.randomUUID(), (f) => { bar.value = f; }));
    if (!made) { clear(status); return; }
    // Checked and applied in the background: poll until it settles.
    let u = made;
    while (!SETTLED.includes(u.status) && !signal.aborted) {
      clear(status, h('p', {}, `Checking ${file.name}: `, badge(u.status), ` ${count(u.progress)} rows read`));
      await new Promise((r) => setTimeout(r, 500));
      u = await api(`${base}/${u.id}`, { signal });
    }
    const waits = u.status === 'awaiting_approval';
    clear(status, h('div', { class: u.rejected || waits ? 'why' : 'panel', id: 'upload-result' },
      h('p', {}, `${file.name}: `, badge(u.status), ` ${count(u.rows)} rows, ${count(u.accepted)} accepted, ${count(u.rejected)} rejected, ${count(u.applied)} applied.`),
      u.message ? h('p', {}, u.message) : null,
      waits ? h('p', {}, 'Nothing is applied until another person with workers:approve approves it.') : null,
      h('span', { class: 'row' }, report(u), reviewButton(u))));
    toast(`${file.name}: ${u.status}`);
    await reload();
  };

  const parts = [h('h1', {}, 'Uploads')];
  if (uploader) {
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
    parts.push(h('div', { class: 'panel' }, h('div', { class: 'row' }, h('label', {}, 'Rows are', kind), h('label', {}, 'Mode', mode)), drop, status));
  }
  parts.push(review);
  if (reviewer) parts.push(inbox);
  if (uploader) parts.push(h('h2', {}, 'Recent uploads'), list);
  clear(main, ...parts);
  await Promise.all([uploader ? load() : null, reviewer ? loadInbox() : null]);
  if (params[0]) await open(params[0]);
}
