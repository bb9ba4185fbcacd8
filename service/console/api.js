// The only way the console reaches the service: the public /v1 API with the bearer token.

import { session, signOut } from './auth.js';
import { lastPeriod } from './format.js';

export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    this.fields = fields ?? {};
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const s = session();
  if (s) h.Authorization = `Bearer ${s.token}`;
  return h;
}

async function fail(r) {
  let message = `${r.status} ${r.statusText}`;
  let fields;
  try {
    const body = await r.json();
    message = body.error?.message ?? message;
    fields = body.error?.fields;
  } catch { /* not JSON */ }
  if (r.status === 401) {
    signOut();
    location.hash = '#/signin';
  }
  throw new ApiError(r.status, message, fields);
}

/** A JSON call; `body` is sent as JSON. */
export async function api(path, { method = 'GET', body, key, signal } = {}) {
  const extra = {};
  if (body !== undefined) extra['Content-Type'] = 'application/json';
  if (key) extra['Idempotency-Key'] = key;
  const r = await fetch(path, {
    method,
    headers: headers(extra),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!r.ok) await fail(r);
  return r.status === 204 ? null : r.json();
}

/** The period a page that asks for one starts on: the org's newest period with a calculated
 * run, else (no run yet, or the caller may not see runs) the month before this one. */
export async function defaultPeriod(org, signal) {
  // Leaving the page aborts the request: that ends the page's render too.
  const page = await api(`/v1/orgs/${org}/periods?page_size=1`, { signal })
    .catch((e) => (e.name === 'AbortError' ? Promise.reject(e) : null));
  return page?.periods?.[0]?.period ?? lastPeriod();
}

/** A file from the API as a Blob, with the name the service gave it. */
export async function fetchBlob(path) {
  const r = await fetch(path, { headers: headers() });
  if (!r.ok) await fail(r);
  const disposition = r.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? path.split('/').pop();
  return { blob: await r.blob(), name };
}

/** Saves a file from the API (the token cannot ride on a plain link). */
export async function download(path) {
  const { blob, name } = await fetchBlob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Server-Sent Events read with fetch, so the token goes in the Authorization header (an
 * EventSource cannot send one). Yields `{event, data}` until the server ends the stream. */
export async function* events(path, signal) {
  const r = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal });
  if (!r.ok) await fail(r);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let data = '';
      for (const line of chunk.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

/** Uploads a file as multipart with XMLHttpRequest, whose upload reports progress. */
export function upload(path, file, key, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers({ 'Idempotency-Key': key }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error?.message ?? `${xhr.status}`, body?.error?.fields));
    };
    xhr.onerror = () => reject(new ApiError(0, 'the upload did not reach the service'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/** A file as the request body (e.g. a bank's return file as text/csv). */
export async function postFile(path, file, contentType) {
  const r = await fetch(path, { method: 'POST', headers: headers({ 'Content-Type': contentType }), body: file });
  if (!r.ok) await fail(r);
  return r.json();
}
