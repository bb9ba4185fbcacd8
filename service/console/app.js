// The console: signs in, learns who the user is (`GET /v1/me`), and shows the pages their
// permissions allow. Routing is the URL's hash: #/runs, #/runs/<id>, #/periods, ...

import { api } from './api.js';
import { consoleConfig, demoSignIn, finishOidc, session, signOut, startOidc, saveSession } from './auth.js';
import { attempt, clear, h, toast } from './ui.js';

const PAGES = [
  { path: 'runs', title: 'Runs', module: './pages/runs.js', when: (can) => can('runs:view') },
  { path: 'periods', title: 'Periods', module: './pages/periods.js', when: (can) => can('runs:view') },
  { path: 'insights', title: 'Insights', module: './pages/insights.js', when: (can) => can('insights:view') },
  { path: 'adjustments', title: 'Adjustments', module: './pages/adjustments.js',
    when: (can) => can('adjustments:request') || can('adjustments:approve') },
  { path: 'uploads', title: 'Uploads', module: './pages/uploads.js',
    when: (can) => can('upload') || can('workers:approve') },
  { path: 'previews', title: 'Previews', module: './pages/previews.js', when: (can) => can('previews:run') },
  { path: 'audit', title: 'Audit log', module: './pages/audit.js', when: (can) => can('audit:view') },
  { path: 'schedule', title: 'Schedule', module: './pages/schedule.js', when: (can) => can('runs:view') },
  { path: 'roles', title: 'Roles', module: './pages/roles.js', when: (can) => can('roles:manage') },
  { path: 'mypay', title: 'My pay', module: './pages/mypay.js', when: (can) => can('pay:own') },
];

let me = null;
let current = null;

function can(permission) {
  return me?.permissions.has(permission) ?? false;
}

async function loadMe() {
  const body = await api('/v1/me');
  me = { ...body, permissions: new Set(body.permissions) };
}

function renderChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    clear(nav);
    clear(who);
    return;
  }
  const here = location.hash.split('/')[1] ?? '';
  clear(nav, PAGES.filter((p) => p.when(can)).map((p) =>
    h('a', { href: `#/${p.path}`, 'aria-current': here === p.path ? 'page' : null }, p.title)));
  clear(who,
    h('span', {}, `${me.sub} · ${me.org} · ${me.roles.join(', ')}`),
    h('button', { onclick: () => { signOut(); me = null; location.hash = '#/signin'; } }, 'Sign out'));
}

async function signInPage(main) {
  const config = await consoleConfig();
  const box = h('section', { class: 'signin panel' }, h('h1', {}, 'Sign in'));
  if (config.auth === 'oidc') {
    box.append(h('p', {}, 'Sign in with your company account.'),
      h('button', { class: 'primary', onclick: () => attempt(() => startOidc(config)) }, 'Sign in with your company account'));
  } else if (config.auth === 'demo') {
    box.append(h('p', { class: 'muted' }, `Demo of org ${config.org}: choose a role (the worker is ${config.worker}).`),
      ...config.roles.map((role) => h('button', {
        'data-role': role,
        onclick: () => attempt(async () => { await demoSignIn(role); await enter(); }),
      }, `Sign in as ${role.replace('_', ' ')}`)));
  } else {
    const input = h('textarea', { name: 'token', rows: 4 });
    box.append(h('label', {}, 'Bearer token', input),
      h('button', { class: 'primary', onclick: () => attempt(async () => { saveSession({ token: input.value.trim(), via: 'token' }); await enter(); }) }, 'Use token'));
  }
  clear(main, box);
}

async function enter() {
  await loadMe();
  location.hash = defaultPage();
  if (location.hash === defaultPage()) route();
}

function defaultPage() {
  return `#/${PAGES.find((p) => p.when(can))?.path ?? 'signin'}`;
}

async function route() {
  const main = document.getElementById('main');
  current?.abort();
  current = new AbortController();
  document.querySelector('.drawer')?.remove();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (!session() || parts[0] === 'signin') {
    me = null;
    renderChrome();
    await signInPage(main);
    return;
  }
  if (!me) {
    const ok = await attempt(loadMe);
    if (ok === undefined && !me) return;
  }
  renderChrome();
  const page = PAGES.find((p) => p.path === parts[0]);
  if (!page) {
    location.hash = defaultPage();
    return;
  }
  if (!page.when(can)) {
    clear(main, h('p', { class: 'error' }, `Your roles (${me.roles.join(', ')}) do not include this page.`));
    return;
  }
  // #/runs/<id> is one run; #/runs the list.
  const module = await import(page.path === 'runs' && parts[1] ? './pages/run.js' : page.module);
  // Each visit renders into an element of its own: a page still finishing its render after
  // the reader moved on writes into a detached element, never over the next page.
  const view = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  clear(main, view);
  await attempt(() => module.render(view, { me, can, params: parts.slice(1), signal: current.signal }));
  document.title = `${page.title} · Payroll`;
}

async function start() {
  const config = await consoleConfig();
  if (config.auth === 'oidc') {
    try {
      const back = await finishOidc(config);
      if (back) {
        await loadMe();
        location.hash = back === '#/' || back === '#/signin' ? defaultPage() : back;
      }
    } catch (e) {
      toast(e.message, true);
    }
  }
  window.addEventListener('hashchange', route);
  await route();
}

start();
