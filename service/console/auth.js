// Signing in: OpenID Connect authorization code flow with PKCE as a public client (no secret),
// or in the embedded demo a token per role from the service. The token lives in sessionStorage:
// it goes with the tab, and only to this origin's /v1 API.

const SESSION = 'payroll.session';
const PENDING = 'payroll.oidc';
let configPromise;

/** The service's sign-in settings: `{auth: "oidc"|"demo"|"token", ...}`. */
export function consoleConfig() {
  configPromise ??= fetch('/console/config.json').then((r) => r.json());
  return configPromise;
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION));
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(SESSION, JSON.stringify(value));
}

export function signOut() {
  sessionStorage.removeItem(SESSION);
}

/** The embedded demo: a token for `role` from the service itself. */
export async function demoSignIn(role) {
  const r = await fetch('/console/demo-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ role }),
  });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error?.message ?? `demo sign-in: ${r.status}`);
  saveSession({ token: body.token, via: 'demo' });
}

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random() {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function discovery(issuer) {
  const r = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!r.ok) throw new Error(`the sign-in provider's discovery document: ${r.status}`);
  return r.json();
}

function redirectUri() {
  return `${location.origin}/`;
}

/** Sends the browser to the provider's sign-in page. */
export async function startOidc(config) {
  const d = await discovery(config.issuer);
  const verifier = random();
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = random();
  const nonce = random();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, back: location.hash }));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(`${d.authorization_endpoint}?${params}`);
}

function payload(jwt) {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

/** Back from the provider with `?code=`: exchanges it (with the PKCE verifier) for tokens.
 * Returns the hash to go back to, or null when this load is not a sign-in's return. */
export async function finishOidc(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `/${pending?.back ?? ''}`);
  if (params.has('error')) throw new Error(params.get('error_description') ?? params.get('error'));
  if (!pending || params.get('state') !== pending.state) throw new Error('the sign-in answer does not match this tab; sign in again');
  const d = await discovery(config.issuer);
  const r = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: redirectUri(),
      client_id: config.client_id,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = await r.json();
  if (!r.ok) throw new Error(tokens.error_description ?? tokens.error ?? `token endpoint: ${r.status}`);
  if (!tokens.id_token || payload(tokens.id_token).nonce !== pending.nonce) throw new Error('the ID token is not for this sign-in');
  // A JWT access token (a provider with an API audience) is what the API checks; else the ID token.
  const bearer = tokens.access_token?.split('.').length === 3 ? tokens.access_token : tokens.id_token;
  saveSession({ token: bearer, via: 'oidc' });
  return pending.back || '#/';
}
