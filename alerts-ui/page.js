// The page around the views: the main element, title and heading, the live
// indicator, the toast, error boxes, the logout button.

import {h} from './dom.js';

export const $ = (sel, root = document) => root.querySelector(sel);
export const main = () => $('#main');

/** The live indicator in the header: `live`, `reconnecting` or `off`. */
export function liveStatus(st) {
  const el = $('#live-status');
  if (!el) return;
  el.dataset.state = st;
  el.textContent = {live: 'Live', reconnecting: 'Reconnecting…', off: 'Not live'}[st] || st;
}

let toastTimer = null;

/** A short message at the bottom of the page for 4 s (`kind` info or error). */
export function toast(msg, kind = 'info') {
  const el = $('#toast');
  el.textContent = msg;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

/** A box saying what could not be loaded. */
export function errorBox(e) {
  return h('div', {class: 'error', role: 'alert'}, h('strong', 'Could not load: '), String(e && e.message ? e.message : e));
}

/** Shows or hides the logout button. */
export function showLoggedIn(yes) {
  const b = $('#logout-btn');
  if (b) b.hidden = !yes;
}

export function setTitle(t) {
  document.title = `${t} · otwatch`;
}

/** The view's h1, focused by `focusTitle` when the view is drawn. */
export function heading(textContent, ...rest) {
  return h('h1', {tabindex: '-1', id: 'view-title'}, textContent, ...rest);
}

export function focusTitle() {
  const t = $('#view-title');
  if (t) t.focus({preventScroll: true});
}

/** `fn` called once `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** Keys on a focused table row (a listener's event): Enter calls `openIt`, ↓ ↑ (j k) move. */
export function rowKeys(ev, openIt) {
  if (ev.key === 'Enter') openIt();
  else if (ev.key === 'ArrowDown' || ev.key === 'j') { ev.preventDefault(); if (ev.currentTarget.nextElementSibling) ev.currentTarget.nextElementSibling.focus(); }
  else if (ev.key === 'ArrowUp' || ev.key === 'k') { ev.preventDefault(); if (ev.currentTarget.previousElementSibling) ev.currentTarget.previousElementSibling.focus(); }
}
