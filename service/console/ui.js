// Small DOM helpers: elements built from data (text is always text, never HTML), dialogs,
// toasts, tables and the drawer.

import { rupees } from './format.js';

/** `h('a', {href: '#/'}, 'Runs')`: attributes and children; `on*` attributes are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function money(value) {
  return h('span', { class: 'money' }, rupees(value));
}

export function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

export function toast(message, bad = false) {
  const t = h('div', { class: bad ? 'toast bad' : 'toast' }, message);
  document.getElementById('toasts').append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

/** A list's loader that may be called again before an earlier call's answer came (once as the
 * page opens, again after an action changed the list): each call fetches, and only the newest
 * call's answer is rendered, so a slow first answer never replaces the list an action asked
 * for. */
export function newestAnswer(fetch, render) {
  let calls = 0;
  return async (...args) => {
    const call = ++calls;
    const answer = await fetch(...args);
    if (call === calls) render(answer);
  };
}

/** A list read a page at a time by the API's page tokens. `fetchPage(token)` asks for a page;
 * `render(page, index, { previous, next })` shows it, `previous` and `next` being what its
 * buttons do (undefined at either end). Each page asked for goes with its answer and only the
 * newest answer is shown, so a second click before the first one's answer neither asks for a
 * page whose token is not known yet nor lets the first answer land last. Returns what shows
 * the first page (again, after a search or filter changed what `fetchPage` asks). */
export function paged(fetchPage, render) {
  let tokens = [undefined];
  const show = newestAnswer(
    (index) => fetchPage(tokens[index]).then((page) => ({ index, page })),
    ({ index, page }) => {
      tokens[index + 1] = page.next_page_token;
      render(page, index, {
        previous: index > 0 ? () => attempt(() => show(index - 1)) : undefined,
        next: page.next_page_token ? () => attempt(() => show(index + 1)) : undefined,
      });
    });
  return () => {
    tokens = [undefined];
    return show(0);
  };
}

/** Runs `action`, reporting an error as a toast; returns its value or undefined. */
export async function attempt(action) {
  try {
    return await action();
  } catch (e) {
    if (e.name !== 'AbortError') toast(e.message, true);
    return undefined;
  }
}

/** A modal question; resolves to the form's values, or null when cancelled. `fields` adds
 * inputs (e.g. a reason). */
export function ask(title, text, { confirm = 'Confirm', danger = false, fields = [] } = {}) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => h('label', {}, f.label,
      h(f.multiline ? 'textarea' : 'input', { name: f.name, required: f.required ?? true, value: f.value ?? '' })));
    const dialog = h('dialog', { 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        h('p', {}, text),
        inputs,
        h('div', { class: 'row' },
          h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'),
          h('button', { value: 'ok', class: danger ? 'danger' : 'primary' }, confirm))));
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      const values = Object.fromEntries(inputs.map((l) => [l.lastChild.name, l.lastChild.value.trim()]));
      dialog.remove();
      resolve(ok ? values : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A table of `rows` with `columns`: `{title, get(row) → node or text, num?}`. */
export function table(columns, rows, { onRow, caption, rowLabel } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : (c.narrow ? 'hide-narrow' : null), scope: 'col' }, c.title)))),
      h('tbody', {}, rows.map((row) => {
        const tr = h('tr', onRow ? { class: 'clickable', tabindex: 0, 'aria-label': rowLabel?.(row) } : {},
          columns.map((c) => h('td', { class: c.num ? 'num' : (c.narrow ? 'hide-narrow' : null) }, c.get(row))));
        if (onRow) {
          tr.addEventListener('click', () => onRow(row));
          tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') onRow(row); });
        }
        return tr;
      }))));
}

/** A side panel over the page; closing it (button or Escape) removes it. */
export function drawer(title, ...children) {
  document.querySelector('.drawer')?.remove();
  const close = () => { panel.remove(); document.removeEventListener('keydown', onKey); };
  const onKey = (e) => { if (e.key === 'Escape') close(); };
  const panel = h('aside', { class: 'drawer', 'aria-label': title },
    h('button', { class: 'close', onclick: close }, 'Close'),
    h('h2', {}, title), children);
  document.addEventListener('keydown', onKey);
  document.body.append(panel);
  panel.querySelector('button').focus();
  return panel;
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
