// The client of the analyzer's /api/v1: JSON requests with the session
// cookie (HttpOnly, so this script never sees it), errors as HttpError with
// the HTTP status, and the lists the views share (rules, protocols), loaded
// once after login.
//
// What an answer says about access goes to the handlers `onAuth` sets: a 401
// means the session is gone (the login form), any other answer that we are
// logged in.

import {state} from './state.js';

export const API = '/api/v1';

/** An answer other than 2xx: `status` and the analyzer's `error` text. */
export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const auth = {unauthorized: () => {}, authorized: () => {}};

/** Sets what happens on a 401 (`unauthorized`) and on any accepted request (`authorized`). */
export function onAuth({unauthorized, authorized}) {
  auth.unauthorized = unauthorized;
  auth.authorized = authorized;
}

/** Tells the page the session is gone (for requests made outside `api`). */
export function sessionEnded() {
  auth.unauthorized();
}

/** Request headers: JSON answers wanted, plus `extra`. */
export function headers(extra) {
  return {Accept: 'application/json', ...extra};
}

/** One API request; the parsed JSON answer, or throws HttpError. */
export async function api(path, {method = 'GET', body, signal} = {}) {
  // State changes send JSON (the analyzer refuses anything else with the cookie).
  const init = {method, headers: headers(body === undefined ? {} : {'Content-Type': 'application/json'}),
    signal, cache: 'no-store', credentials: 'same-origin'};
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(API + path, init);
  let data;
  try {
    data = await r.json();
  } catch (e) {
    // A view that was left aborts its requests, also while their answer is
    // read: that must reach the view as an abort, never as an empty answer
    // it would go on drawing with over the next view.
    if (signal && signal.aborted) throw abortError(signal);
    if (r.ok) throw new HttpError(r.status, `the answer to ${path} is not JSON (${e.message})`);
    data = null;
  }
  if (signal && signal.aborted) throw abortError(signal);
  if (!r.ok) {
    if (r.status === 401) auth.unauthorized();
    throw new HttpError(r.status, (data && data.error) || `${r.status} ${r.statusText}`);
  }
  auth.authorized();
  return data;
}

/** The error an aborted request ends with (the reason the signal was given, if it is an AbortError). */
function abortError(signal) {
  const reason = signal.reason;
  return reason instanceof Error && reason.name === 'AbortError' ? reason : new DOMException('the view was left', 'AbortError');
}

/**
 * For `.catch` on a request whose failure the view can live with: null
 * instead of the answer, except when the view was left (the abort goes on).
 */
export function orNull(e) {
  if (e && e.name === 'AbortError') throw e;
  return null;
}

let rules = null; // Map id → rule (list form)

/** The loaded rules by id, fetched once (again with `force`). */
export async function rulesMap(force = false) {
  if (rules && !force) return rules;
  const d = await api('/rules');
  rules = new Map((d.rules || []).map((r) => [Number(r.id), r]));
  return rules;
}

const COLOUR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
let protocols = null; // Promise of the analyzer's protocols

/**
 * The protocols the analyzer knows (GET /protocols): [{name, title, color,
 * eve_objects, fields}] in the analyzer's order, fetched once per session.
 * A colour that is not CSS hex (#rgb, #rrggbb) becomes null.
 */
export function protocolList() {
  if (!protocols) {
    protocols = api('/protocols').then((d) => (d.protocols || [])
      .filter((p) => p && typeof p.name === 'string' && p.name)
      .map((p) => ({...p, color: typeof p.color === 'string' && COLOUR.test(p.color) ? p.color : null})));
    protocols.catch(() => { protocols = null; }); // asked again next time
  }
  return protocols;
}

/** The protocols, or none when they cannot be had: the views work without them. */
export async function protocolsOrNone() {
  try {
    return await protocolList();
  } catch (e) {
    if (e.name !== 'AbortError') console.warn('protocols', e);
    return [];
  }
}

/** Sets alerts `ids` to state `st` (acknowledged, closed, new), signed with the analyst name. */
export async function changeState(ids, st) {
  const by = (state.analyst || '').trim() || 'analyst';
  if (ids.length === 1) {
    const path = st === 'acknowledged' ? 'ack' : st === 'closed' ? 'close' : 'state';
    const body = st === 'new' ? {state: 'new', by} : {by};
    const one = await api(`/alerts/${encodeURIComponent(ids[0])}/${path}`, {method: 'POST', body});
    return {updated: 1, alerts: [one]};
  }
  return api('/alerts/state', {method: 'POST', body: {state: st, ids, by}});
}

/**
 * Sets every alert of group `id` to state `st`, signed with the analyst name:
 * {updated, state, group} (the group after the change).
 */
export function changeGroupState(id, st) {
  const by = (state.analyst || '').trim() || 'analyst';
  const path = st === 'acknowledged' ? 'ack' : st === 'closed' ? 'close' : 'state';
  const body = st === 'new' ? {state: 'new', by} : {by};
  return api(`/alert-groups/${encodeURIComponent(id)}/${path}`, {method: 'POST', body});
}

/** Posts the API token to /login; the raw Response (the form tells 401 from other failures). */
export function postLogin(token) {
  return fetch(`${API}/login`, {method: 'POST', headers: headers({'Content-Type': 'application/json'}),
    body: JSON.stringify({token}), cache: 'no-store', credentials: 'same-origin'});
}

/** Ends the session at the analyzer and forgets what was loaded with it. */
export async function postLogout() {
  try {
    await fetch(`${API}/logout`, {method: 'POST', headers: headers({'Content-Type': 'application/json'}),
      body: '{}', cache: 'no-store', credentials: 'same-origin'});
  } catch (e) {
    console.warn('logout', e);
  }
  rules = null;
  protocols = null;
}
