// DOM helpers. Everything that reaches the page goes through `h`/`text`:
// strings become text nodes (createTextNode / textContent), never markup.
// Data from packets (device names, register values, file names) is shown
// exactly as it came, including `<script>` and quotes.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Attributes HTML and SVG elements take alike: event handlers are passed as
// functions under `on` and attached with addEventListener (an `on…`
// attribute is refused), `style` is an object of properties set through the
// CSSOM (allowed by the page's Content-Security-Policy, unlike a style
// attribute), and `href` only takes internal links (see `safeHref`).
// Returns false for any other attribute.
function commonAttr(el, k, v) {
  if (k === 'on') {
    for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
  } else if (k === 'class') {
    el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
  } else if (k === 'style') {
    for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, String(sv));
  } else if (k === 'href') {
    el.setAttribute('href', safeHref(v));
  } else if (k.startsWith('on')) {
    throw new Error(`event attribute ${k}: use {on: {...}}`);
  } else {
    return false;
  }
  return true;
}

// The attributes of an HTML element: form state as properties, `dataset`
// as data-* attributes, the rest with setAttribute.
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false || commonAttr(el, k, v)) continue;
    if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    } else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'indeterminate') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

// Only links inside the page (`#/…`), the one download the UI offers (the
// baseline file, an attachment of the analyzer) and a few fixed outside
// references built by the UI itself (ATT&CK pages) are allowed as href.
function safeHref(v) {
  const s = String(v);
  if (s.startsWith('#/') || s === '#' || s === '/api/v1/baseline/file') return s;
  if (/^https:\/\/attack\.mitre\.org\/techniques\/T[0-9]{4}(\/[0-9]{3})?\/$/.test(s)) return s;
  return '#';
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Creates an element: h('td', {class: 'x'}, 'text', childNode, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  setAttrs(el, attrs);
  return append(el, children);
}

/** Creates an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || commonAttr(el, k, v)) continue;
    el.setAttribute(k, String(v));
  }
  return append(el, children);
}

/** A text node. */
export function text(v) {
  return document.createTextNode(v === undefined || v === null ? '' : String(v));
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An internal link. */
export function link(route, ...children) {
  return h('a', {href: route}, ...children);
}

/** Builds `#/path?query` from a path and an object of parameters. */
export function route(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const qs = q.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

/** Formats an EVE/RFC 3339 timestamp for people (local time, seconds). */
export function fmtTime(ts, withDate = true) {
  if (!ts) return '—';
  const d = new Date(String(ts).replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  if (Number.isNaN(d.getTime())) return String(ts);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!withDate) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** Parses an EVE timestamp into milliseconds. */
export function parseTime(ts) {
  if (!ts) return NaN;
  return new Date(String(ts).replace(/([+-]\d\d)(\d\d)$/, '$1:$2')).getTime();
}

/** "3 min ago". */
export function ago(ts) {
  const t = parseTime(ts);
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 0) return 'in the future';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** 1234567 → "1,234,567". */
export function num(n) {
  if (n === undefined || n === null || n === '') return '—';
  const x = Number(n);
  return Number.isFinite(x) ? x.toLocaleString('en-US', {maximumFractionDigits: 1}) : String(n);
}

/** Bytes for people. */
export function bytes(n) {
  const x = Number(n);
  if (!Number.isFinite(x)) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = x;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toLocaleString('en-US', {maximumFractionDigits: i ? 1 : 0})} ${u[i]}`;
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

/** A severity badge (1–5 or a name). */
export function sevBadge(sev) {
  const name = typeof sev === 'number' ? (SEVERITIES[sev - 1] || 'unknown') : String(sev || 'unknown');
  return h('span', {class: ['sev', `sev-${SEVERITIES.includes(name) ? name : 'unknown'}`]}, name);
}

/** A state badge. */
export function stateBadge(state) {
  const st = ['new', 'acknowledged', 'closed'].includes(state) ? state : 'unknown';
  return h('span', {class: ['state', `state-${st}`]}, String(state || 'unknown'));
}
