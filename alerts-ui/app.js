// otwatch alerts UI: a single page over the analyzer's /api/v1, routed by the
// URL fragment so every view (filters included) can be shared as a link.
//
//   #/overview                      charts, top rules and hosts, sensor health
//   #/alerts?severity=…&q=…         live list of alerts with filters
//   #/alerts/ID                     one alert: what happened, who, decoded transaction
//   #/assets  #/assets/IP           inventory, communication map, one asset
//   #/rules   #/rules/ID            loaded rules, hit counts, YAML
//
// Every string from the API is put on the page as text (see dom.js).
//
// Credentials: the analyzer's session cookie (HttpOnly, so this script never
// sees it), set by opening the login link /?token=… or by the login form
// below; the page itself keeps no token.

import {h, replace, route, fmtTime, parseTime, ago, num, bytes, SEVERITIES, sevBadge, stateBadge} from './dom.js';
import {technique, techniqueUrl} from './attack.js';
import {tree, transaction, bars, timeChart, commMap} from './views.js';

const API = '/api/v1';

const state = {
  loginFailed: false,
  analyst: localStorage.getItem('otwatch.analyst') || 'analyst',
  rules: null, // Map id → rule (list form)
  lastList: '#/alerts',
  lastOpened: null,
  view: null, // {cleanup: [fn], keys: fn}
};

const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $('#main');

// ---------------------------------------------------------------- API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra) {
  return {Accept: 'application/json', ...extra};
}

async function api(path, {method = 'GET', body, signal} = {}) {
  // State changes send JSON (the analyzer refuses anything else with the cookie).
  const init = {method, headers: headers(body === undefined ? {} : {'Content-Type': 'application/json'}),
    signal, cache: 'no-store', credentials: 'same-origin'};
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(API + path, init);
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    if (r.status === 401) needLogin();
    throw new HttpError(r.status, (data && data.error) || `${r.status} ${r.statusText}`);
  }
  loggedIn(true);
  return data;
}

async function rulesMap(force = false) {
  if (state.rules && !force) return state.rules;
  const d = await api('/rules');
  state.rules = new Map((d.rules || []).map((r) => [Number(r.id), r]));
  return state.rules;
}

/**
 * The live stream (server-sent events read with fetch, so that
 * Last-Event-ID can be set on reconnect): calls onAlert(summary) per alert,
 * reconnects so nothing stored meanwhile is missed; stops at a 401 (the
 * session ended) and shows the login form.
 */
function openStream(query, {onAlert, after}) {
  let stopped = false;
  let ctl = null;
  let lastId = after || null;
  let retry = 1000;
  const run = async () => {
    while (!stopped) {
      ctl = new AbortController();
      try {
        const hd = headers({Accept: 'text/event-stream'});
        if (lastId) hd['Last-Event-ID'] = lastId;
        const r = await fetch(`${API}/stream${query ? `?${query}` : ''}`, {headers: hd, signal: ctl.signal, cache: 'no-store', credentials: 'same-origin'});
        if (r.status === 401) {
          stopped = true;
          liveStatus('off');
          needLogin();
          return;
        }
        if (!r.ok || !r.body) throw new HttpError(r.status, 'stream refused');
        liveStatus('live');
        retry = 1000;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buf += value;
          let m;
          while ((m = /\r?\n\r?\n/.exec(buf))) {
            const block = buf.slice(0, m.index);
            buf = buf.slice(m.index + m[0].length);
            let ev = 'message';
            let id = null;
            const data = [];
            for (const line of block.split(/\r?\n/)) {
              if (!line || line.startsWith(':')) continue;
              const i = line.indexOf(':');
              const k = i < 0 ? line : line.slice(0, i);
              const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
              if (k === 'event') ev = v;
              else if (k === 'id') id = v;
              else if (k === 'data') data.push(v);
            }
            if (id) lastId = id;
            if (ev === 'alert' && data.length) {
              try {
                onAlert(JSON.parse(data.join('\n')));
              } catch (e) {
                console.warn('bad stream event', e);
              }
            } else if (ev === 'skipped') {
              toast('The live list fell behind; reload to see every alert.');
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      liveStatus('reconnecting');
      await new Promise((res) => setTimeout(res, retry));
      retry = Math.min(retry * 2, 15000);
    }
  };
  run();
  return () => {
    stopped = true;
    if (ctl) ctl.abort();
    liveStatus('off');
  };
}

function liveStatus(st) {
  const el = $('#live-status');
  if (!el) return;
  el.dataset.state = st;
  el.textContent = {live: 'Live', reconnecting: 'Reconnecting…', off: 'Not live'}[st] || st;
}

let toastTimer = null;
function toast(msg, kind = 'info') {
  const el = $('#toast');
  el.textContent = msg;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

function errorBox(e) {
  return h('div', {class: 'error', role: 'alert'}, h('strong', 'Could not load: '), String(e && e.message ? e.message : e));
}

// ---------------------------------------------------------------- helpers

function attackChips(ids, long = false) {
  return (ids || []).map((id) => {
    const t = technique(id);
    return h('span', {class: 'attack', title: t ? `${id} ${t.name} (${t.tactics})` : String(id)},
      String(id), long && t ? h('span', {class: 'attack-name'}, ` ${t.name}`) : null);
  });
}

function ruleName(rules, sid, fallback) {
  const r = rules && rules.get(Number(sid));
  return (r && r.name) || fallback || `rule ${sid}`;
}

function identityLine(asset) {
  const id = asset && asset.identity;
  if (!id) return null;
  const parts = [id.vendor, id.product || id.module_name, id.model, id.order_number, id.firmware ? `fw ${id.firmware}` : null]
    .filter((x) => x !== undefined && x !== null && x !== '');
  return parts.length ? parts.map(String).join(' · ') : null;
}

function setTitle(t) {
  document.title = `${t} · otwatch`;
}

function heading(textContent, ...rest) {
  return h('h1', {tabindex: '-1', id: 'view-title'}, textContent, ...rest);
}

function focusTitle() {
  const t = $('#view-title');
  if (t) t.focus({preventScroll: true});
}

function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

// ---------------------------------------------------------------- filters

const RANGES = [
  ['', 'All time'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'Custom…'],
];
const RANGE_SEC = {'15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800, '30d': 2592000};

function filtersFrom(params) {
  const list = (k) => (params.get(k) || '').split(',').map((x) => x.trim()).filter(Boolean);
  return {
    range: params.get('range') || (params.get('from') || params.get('to') ? 'custom' : ''),
    from: params.get('from') || '',
    to: params.get('to') || '',
    severity: list('severity'),
    protocol: params.get('protocol') || '',
    rule: params.get('rule') || '',
    host: params.get('host') || '',
    state: params.get('state') || '',
    q: params.get('q') || '',
  };
}

function filtersRoute(f) {
  return route('alerts', {
    range: f.range === 'custom' ? '' : f.range,
    from: f.range === 'custom' ? f.from : '',
    to: f.range === 'custom' ? f.to : '',
    severity: f.severity, protocol: f.protocol, rule: f.rule, host: f.host, state: f.state, q: f.q,
  });
}

function timeBounds(f) {
  if (RANGE_SEC[f.range]) return {from: Math.floor(Date.now() / 1000) - RANGE_SEC[f.range]};
  if (f.range === 'custom') {
    const sec = (v) => {
      const t = Date.parse(v);
      return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
    };
    return {from: f.from ? sec(f.from) : undefined, to: f.to ? sec(f.to) : undefined};
  }
  return {};
}

function apiQuery(f, {withTime = true} = {}) {
  const q = new URLSearchParams();
  if (withTime) {
    const b = timeBounds(f);
    if (b.from !== undefined) q.set('from', String(b.from));
    if (b.to !== undefined) q.set('to', String(b.to));
  }
  if (f.severity.length) q.set('severity', f.severity.join(','));
  if (f.protocol) q.set('protocol', f.protocol);
  if (f.rule) q.set('rule', f.rule);
  if (f.host) q.set('host', f.host);
  if (f.state === 'open') q.set('state', 'new,acknowledged');
  else if (f.state) q.set('state', f.state);
  if (f.q) q.set('q', f.q);
  return q;
}

// Local datetime-local value ↔ ISO (UTC) text kept in the URL.
const toLocalInput = (iso) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};
const fromLocalInput = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');

// ---------------------------------------------------------------- state changes

async function changeState(ids, st) {
  const by = (state.analyst || '').trim() || 'analyst';
  if (ids.length === 1) {
    const path = st === 'acknowledged' ? 'ack' : st === 'closed' ? 'close' : 'state';
    const body = st === 'new' ? {state: 'new', by} : {by};
    const one = await api(`/alerts/${encodeURIComponent(ids[0])}/${path}`, {method: 'POST', body});
    return {updated: 1, alerts: [one]};
  }
  return api('/alerts/state', {method: 'POST', body: {state: st, ids, by}});
}

const STATE_VERB = {acknowledged: 'Acknowledged', closed: 'Closed', new: 'Reopened'};

// ---------------------------------------------------------------- alerts list

async function viewAlerts(root, params, ctx) {
  setTitle('Alerts');
  state.lastList = location.hash || '#/alerts';
  const f = filtersFrom(params);
  let rules = new Map();
  try {
    rules = await rulesMap();
  } catch (e) {
    if (e.status === 401) return;
  }
  const rows = new Map(); // id → {alert, tr}
  const selected = new Set();
  let next = null;
  let fresh = 0;

  const sevButtons = new Map();
  const counts = h('div', {class: 'sev-counts', role: 'group', 'aria-label': 'Severity filter and counts'},
    SEVERITIES.map((sv) => {
      const b = h('button', {type: 'button', class: ['sev-toggle', `sev-${sv}`], 'aria-pressed': String(f.severity.includes(sv)), dataset: {sev: sv},
        on: {click: () => {
          f.severity = f.severity.includes(sv) ? f.severity.filter((x) => x !== sv) : [...f.severity, sv];
          b.setAttribute('aria-pressed', String(f.severity.includes(sv)));
          apply();
        }}},
      h('span', {class: 'sev-name'}, sv), ' ', h('span', {class: 'sev-count'}, '…'));
      sevButtons.set(sv, b);
      return b;
    }));
  const stateCounts = h('p', {class: 'state-counts muted'});

  const rangeSel = h('select', {id: 'f-range', name: 'range'}, RANGES.map(([v, l]) => h('option', {value: v, selected: f.range === v}, l)));
  const fromIn = h('input', {type: 'datetime-local', id: 'f-from', value: toLocalInput(f.from), 'aria-label': 'From'});
  const toIn = h('input', {type: 'datetime-local', id: 'f-to', value: toLocalInput(f.to), 'aria-label': 'To'});
  const custom = h('span', {class: 'custom-range', hidden: f.range !== 'custom'}, fromIn, ' – ', toIn);
  const protoSel = h('select', {id: 'f-protocol', name: 'protocol'}, h('option', {value: ''}, 'Any protocol'));
  const ruleSel = h('select', {id: 'f-rule', name: 'rule'}, h('option', {value: ''}, 'Any rule'));
  const hostIn = h('input', {type: 'text', id: 'f-host', name: 'host', value: f.host, placeholder: 'IP address', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false'});
  const stateSel = h('select', {id: 'f-state', name: 'state'},
    [['', 'Any state'], ['open', 'Open (new + acknowledged)'], ['new', 'New'], ['acknowledged', 'Acknowledged'], ['closed', 'Closed']]
      .map(([v, l]) => h('option', {value: v, selected: f.state === v}, l)));
  const qIn = h('input', {type: 'search', id: 'q', name: 'q', value: f.q, placeholder: 'Search text (press /)', autocomplete: 'off', spellcheck: 'false', maxlength: '256'});
  const protos = new Set(['modbus', 's7comm', 'dnp3', f.protocol].filter(Boolean));
  const fillProtocols = () => {
    replace(protoSel, h('option', {value: ''}, 'Any protocol'), [...protos].sort().map((p) => h('option', {value: p, selected: f.protocol === p}, p)));
  };
  fillProtocols();
  const fillRules = (extra = []) => {
    const ids = new Set([...rules.keys(), ...extra.map(Number)]);
    if (f.rule) ids.add(Number(f.rule));
    replace(ruleSel, h('option', {value: ''}, 'Any rule'),
      [...ids].sort((a, b) => a - b).map((id) => h('option', {value: String(id), selected: String(id) === f.rule}, `${id} — ${ruleName(rules, id, '')}`)));
  };
  fillRules();

  const lbl = (forId, t, el) => h('label', {for: forId, class: 'field'}, h('span', {class: 'field-label'}, t), el);
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Alert filters', on: {submit: (ev) => { ev.preventDefault(); readForm(); apply(); }}},
    lbl('f-range', 'Time', rangeSel), custom,
    lbl('f-protocol', 'Protocol', protoSel),
    lbl('f-rule', 'Rule', ruleSel),
    lbl('f-host', 'Host', hostIn),
    lbl('f-state', 'State', stateSel),
    lbl('q', 'Text', qIn),
    h('button', {type: 'button', class: 'link-button', on: {click: () => { location.hash = '#/alerts'; }}}, 'Clear filters'));

  const readForm = () => {
    f.range = rangeSel.value;
    custom.hidden = f.range !== 'custom';
    f.from = fromLocalInput(fromIn.value);
    f.to = fromLocalInput(toIn.value);
    f.protocol = protoSel.value;
    f.rule = ruleSel.value;
    f.host = hostIn.value.trim();
    f.state = stateSel.value;
    f.q = qIn.value.trim();
  };
  for (const el of [rangeSel, protoSel, ruleSel, stateSel, fromIn, toIn]) el.addEventListener('change', () => { readForm(); apply(); });
  const typed = debounce(() => { readForm(); apply(); }, 350);
  qIn.addEventListener('input', typed);
  hostIn.addEventListener('change', () => { readForm(); apply(); });
  hostIn.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); readForm(); apply(); } });

  const selAll = h('input', {type: 'checkbox', 'aria-label': 'Select all shown alerts', on: {change: () => {
    for (const [id, r] of rows) {
      if (selAll.checked) selected.add(id); else selected.delete(id);
      r.box.checked = selAll.checked;
      r.tr.classList.toggle('selected', selAll.checked);
    }
    updateBar();
  }}});
  const selInfo = h('span', {class: 'sel-info', 'aria-live': 'polite'}, '');
  const btn = (label, st, key) => h('button', {type: 'button', class: ['action', `action-${st}`], disabled: true, 'aria-keyshortcuts': key, on: {click: () => bulk(st)}}, label);
  const ackBtn = btn('Acknowledge', 'acknowledged', 'a');
  const closeBtn = btn('Close', 'closed', 'c');
  const reopenBtn = btn('Reopen', 'new', 'n');
  const toolbar = h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Selected alerts'}, selInfo, ackBtn, closeBtn, reopenBtn);

  const tbody = h('tbody');
  const table = h('table', {class: 'alerts', 'aria-label': 'Alerts, newest first', 'aria-describedby': 'list-help'},
    h('thead', h('tr',
      h('th', {class: 'c-sel', scope: 'col'}, selAll),
      h('th', {scope: 'col', class: 'c-sev'}, 'Severity'),
      h('th', {scope: 'col', class: 'c-time'}, 'Time'),
      h('th', {scope: 'col', class: 'c-rule'}, 'Alert'),
      h('th', {scope: 'col', class: 'c-proto'}, 'Protocol'),
      h('th', {scope: 'col', class: 'c-hosts'}, 'Source → destination'),
      h('th', {scope: 'col', class: 'c-attack'}, 'ATT&CK'),
      h('th', {scope: 'col', class: 'c-state'}, 'State'))),
    tbody);
  const status = h('p', {class: 'list-status', role: 'status'}, 'Loading…');
  const more = h('button', {type: 'button', class: 'more', hidden: true, on: {click: () => load(true)}}, 'Load older alerts');
  const freshNote = h('span', {class: 'fresh-note', 'aria-live': 'polite'});

  replace(root,
    h('div', {class: 'view-head'}, heading('Alerts'), freshNote),
    counts, stateCounts,
    // On a narrow screen the filters fold away unless some are set.
    h('details', {class: 'filter-box', open: !window.matchMedia('(max-width: 760px)').matches || [...apiQuery(f, {withTime: false}).keys()].length > 0 || !!f.range},
      h('summary', 'Filters'), form),
    toolbar,
    h('p', {id: 'list-help', class: 'hint'}, 'Rows: ↑/↓ or j/k to move, Enter to open, Space or x to select, a/c/n to acknowledge/close/reopen. Press ? for all shortcuts.'),
    h('div', {class: 'table-wrap'}, table), status, more);

  function updateBar() {
    const n = selected.size;
    selInfo.textContent = n ? `${n} selected` : 'None selected';
    for (const b of [ackBtn, closeBtn, reopenBtn]) b.disabled = n === 0;
    selAll.checked = n > 0 && n === rows.size;
    selAll.indeterminate = n > 0 && n < rows.size;
  }

  function setRowState(tr, a) {
    const cell = tr.querySelector('.c-state');
    replace(cell, stateBadge(a.state));
    tr.dataset.state = a.state;
  }

  function makeRow(a, isFresh) {
    const box = h('input', {type: 'checkbox', tabindex: '-1', 'aria-label': `Select alert ${a.signature || a.signature_id}`, checked: selected.has(a.id),
      on: {click: (ev) => ev.stopPropagation(), change: () => toggle(a.id, box.checked)}});
    const tr = h('tr', {class: ['alert-row', isFresh ? 'fresh' : '', `sev-row-${a.severity_name}`], tabindex: '-1', dataset: {id: a.id, state: a.state},
      'aria-label': `${a.severity_name} ${a.signature || ''} from ${a.src_ip} to ${a.dest_ip}, ${a.state}`,
      on: {
        click: (ev) => { if (!ev.target.closest('a, input, button')) open(a.id); },
        focus: () => rovingTo(tr),
      }},
    h('td', {class: 'c-sel'}, box),
    h('td', {class: 'c-sev'}, sevBadge(a.severity_name)),
    h('td', {class: 'c-time', title: String(a.timestamp || '')}, fmtTime(a.timestamp)),
    h('td', {class: 'c-rule'}, h('a', {href: `#/alerts/${encodeURIComponent(a.id)}`, tabindex: '-1', class: 'sig'}, String(a.signature || ruleName(rules, a.signature_id))),
      h('span', {class: 'sub'}, ` ${a.category ? `${a.category} · ` : ''}rule ${a.signature_id}`)),
    h('td', {class: 'c-proto'}, String(a.protocol || '')),
    h('td', {class: 'c-hosts'}, h('span', {class: 'ip'}, `${a.src_ip}${a.src_port ? `:${a.src_port}` : ''}`), ' → ',
      h('span', {class: 'ip'}, `${a.dest_ip}${a.dest_port ? `:${a.dest_port}` : ''}`)),
    h('td', {class: 'c-attack'}, attackChips(a.attack)),
    h('td', {class: 'c-state'}, stateBadge(a.state)));
    rows.set(a.id, {alert: a, tr, box});
    return tr;
  }

  function toggle(id, on) {
    const r = rows.get(id);
    if (!r) return;
    if (on) selected.add(id); else selected.delete(id);
    r.box.checked = on;
    r.tr.classList.toggle('selected', on);
    updateBar();
  }

  function rovingTo(tr) {
    for (const r of tbody.querySelectorAll('tr[tabindex="0"]')) if (r !== tr) r.tabIndex = -1;
    tr.tabIndex = 0;
  }

  function focusRow(tr) {
    if (!tr) return;
    rovingTo(tr);
    tr.focus();
  }

  function open(id) {
    state.lastList = location.hash || '#/alerts';
    state.lastOpened = id;
    location.hash = `#/alerts/${encodeURIComponent(id)}`;
  }

  async function bulk(st, ids = [...selected]) {
    if (!ids.length) return;
    try {
      const r = await changeState(ids, st);
      for (const id of ids) {
        const row = rows.get(id);
        if (!row) continue;
        row.alert.state = st;
        setRowState(row.tr, row.alert);
        if (r.alerts && r.alerts[0]) row.alert = r.alerts[0];
      }
      toast(`${STATE_VERB[st]} ${r.updated} alert${r.updated === 1 ? '' : 's'}.`);
      selected.clear();
      for (const row of rows.values()) {
        row.box.checked = false;
        row.tr.classList.remove('selected');
      }
      updateBar();
      loadCounts();
    } catch (e) {
      toast(`Could not change the state: ${e.message}`, 'error');
    }
  }

  tbody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr.alert-row');
    if (!tr || ev.target !== tr || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const id = tr.dataset.id;
    const k = ev.key;
    if (k === 'ArrowDown' || k === 'j') { ev.preventDefault(); focusRow(tr.nextElementSibling); }
    else if (k === 'ArrowUp' || k === 'k') { ev.preventDefault(); focusRow(tr.previousElementSibling || tr); }
    else if (k === 'Home') { ev.preventDefault(); focusRow(tbody.firstElementChild); }
    else if (k === 'End') { ev.preventDefault(); focusRow(tbody.lastElementChild); }
    else if (k === 'Enter') { ev.preventDefault(); open(id); }
    else if (k === ' ' || k === 'x') { ev.preventDefault(); toggle(id, !selected.has(id)); }
    else if (k === 'a' || k === 'c' || k === 'n') {
      ev.preventDefault();
      const st = {a: 'acknowledged', c: 'closed', n: 'new'}[k];
      bulk(st, selected.size ? [...selected] : [id]);
    } else return;
    ev.stopPropagation();
  });

  function apply() {
    const target = filtersRoute(f);
    if (target !== location.hash) history.replaceState(null, '', target);
    state.lastList = target;
    load(false);
    loadCounts();
    restartStream();
  }

  let loadSeq = 0;
  async function load(append) {
    const seq = ++loadSeq;
    const q = apiQuery(f);
    q.set('limit', '100');
    if (append && next) q.set('cursor', next);
    status.textContent = 'Loading…';
    try {
      const d = await api(`/alerts?${q}`, {signal: ctx.signal});
      if (seq !== loadSeq) return;
      if (!append) {
        rows.clear();
        selected.clear();
        tbody.replaceChildren();
        fresh = 0;
        freshNote.textContent = '';
      }
      for (const a of d.alerts || []) {
        if (rows.has(a.id)) continue;
        tbody.appendChild(makeRow(a, false));
        if (a.protocol) protos.add(a.protocol);
      }
      fillProtocols();
      next = d.next_cursor || null;
      more.hidden = !next;
      status.textContent = rows.size ? `${rows.size} alert${rows.size === 1 ? '' : 's'} shown${next ? ' (more below)' : ''}.` : 'No alerts match these filters.';
      status.classList.toggle('empty', !rows.size);
      const first = tbody.firstElementChild;
      if (first && !tbody.querySelector('tr[tabindex="0"]')) first.tabIndex = 0;
      if (!append && state.lastOpened && rows.has(state.lastOpened)) {
        focusRow(rows.get(state.lastOpened).tr);
        state.lastOpened = null;
      }
      updateBar();
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = '';
      tbody.replaceChildren();
      status.appendChild(errorBox(e));
    }
  }

  async function loadCounts() {
    const b = timeBounds(f);
    const q = new URLSearchParams({by: 'severity'});
    if (b.from !== undefined) q.set('from', String(b.from));
    if (b.to !== undefined) q.set('to', String(b.to));
    try {
      const [sev, st, rc] = await Promise.all([
        api(`/counts?${q}`, {signal: ctx.signal}),
        api('/counts?by=state', {signal: ctx.signal}),
        api('/counts?by=rule', {signal: ctx.signal}),
      ]);
      for (const sv of SEVERITIES) {
        const c = (sev.counts || []).find((x) => x.name === sv);
        sevButtons.get(sv).querySelector('.sev-count').textContent = num(c ? c.count : 0);
      }
      replace(stateCounts, 'All stored: ', (st.counts || []).map((c, i) => [i ? ' · ' : '', h('span', {class: `state-count state-count-${c.key}`}, `${num(c.count)} ${c.key}`)]));
      const extra = (rc.counts || []).map((c) => c.key).filter((k) => !rules.has(Number(k)));
      if (extra.length) fillRules(extra);
    } catch (e) {
      if (e.name !== 'AbortError') console.warn(e);
    }
  }

  let stopStream = null;
  const refreshCounts = debounce(loadCounts, 800);
  function restartStream() {
    if (stopStream) stopStream();
    const q = apiQuery(f, {withTime: false});
    const b = timeBounds(f);
    if (b.to !== undefined) {
      stopStream = null; // a closed time range gets no new alerts
      liveStatus('off');
      return;
    }
    stopStream = openStream(q.toString(), {
      onAlert: (a) => {
        if (rows.has(a.id)) return;
        const tr = makeRow(a, true);
        const focused = tbody.querySelector('tr[tabindex="0"]');
        tbody.insertBefore(tr, tbody.firstElementChild);
        if (!focused) tr.tabIndex = 0;
        fresh += 1;
        freshNote.textContent = `${fresh} new since the page was loaded`;
        status.textContent = `${rows.size} alert${rows.size === 1 ? '' : 's'} shown${next ? ' (more below)' : ''}.`;
        status.classList.remove('empty');
        if (a.protocol && !protos.has(a.protocol)) { protos.add(a.protocol); fillProtocols(); }
        updateBar();
        refreshCounts();
      },
    });
  }
  ctx.cleanup.push(() => stopStream && stopStream());

  ctx.keys = (ev) => {
    if (ev.key === 'a' || ev.key === 'c' || ev.key === 'n') {
      if (!selected.size) return false;
      bulk({a: 'acknowledged', c: 'closed', n: 'new'}[ev.key]);
      return true;
    }
    if (ev.key === 'j' || ev.key === 'ArrowDown') {
      focusRow(tbody.querySelector('tr[tabindex="0"]') || tbody.firstElementChild);
      return true;
    }
    return false;
  };

  await Promise.all([load(false), loadCounts()]);
  restartStream();
}

// ---------------------------------------------------------------- one alert

function plainWords(a, rule, src, dst) {
  const tx = a.transaction || {};
  const proto = Object.keys(tx)[0];
  const obj = proto ? tx[proto] : null;
  const req = obj && obj.request;
  const fn = req && (req.function_name || req.function || (req.function_code !== undefined ? `function ${req.function_code}` : null));
  const extra = [];
  if (req) {
    if (req.pi_service) extra.push(`PI service ${req.pi_service}`);
    if (req.diagnostic && req.diagnostic.subfunction) extra.push(`sub-function ${req.diagnostic.subfunction}`);
    if (req.umas && (req.umas.function || req.umas.name)) extra.push(`UMAS ${req.umas.function || req.umas.name}`);
    if (req.address !== undefined) extra.push(`address ${req.address}${req.quantity !== undefined ? `, ${req.quantity} item${req.quantity === 1 ? '' : 's'}` : ''}`);
  }
  const resp = obj && obj.response;
  let outcome = '';
  if (resp && resp.exception) outcome = ` The device answered with exception ${resp.exception.name || resp.exception.code}.`;
  else if (resp && resp.error_class_name && resp.error_class_name !== 'no_error') outcome = ` The PLC refused it (${resp.error_class_name}${resp.error_code !== undefined ? `, code 0x${Number(resp.error_code).toString(16)}` : ''}).`;
  else if (resp) outcome = ' The device answered.';
  else if (obj) outcome = ' No answer was seen.';
  const who = (ip, asset) => {
    const idl = identityLine(asset);
    return idl ? `${ip} (${idl})` : ip;
  };
  const what = fn ? `a ${a.protocol} ${String(fn).replaceAll('_', ' ')} request${extra.length ? ` (${extra.join('; ')})` : ''}` : `${a.protocol || 'network'} traffic`;
  return `${who(a.src_ip, src)} sent ${what} to ${who(a.dest_ip, dst)} at ${fmtTime(a.timestamp)}.${outcome}`;
}

function hostCard(title, ip, port, asset, vlan) {
  const id = asset && asset.identity;
  const rows = [
    ['Address', h('span', {class: 'ip'}, String(ip)), port ? ` port ${port}` : ''],
    ['Asset', asset ? h('a', {href: `#/assets/${encodeURIComponent(ip)}`}, (asset.roles || []).join(', ') || 'in inventory') : h('span', {class: 'muted'}, 'not in the inventory')],
  ];
  if (id) {
    for (const k of ['vendor', 'product', 'model', 'module_name', 'order_number', 'firmware', 'hardware', 'serial']) {
      if (id[k] !== undefined && id[k] !== null && id[k] !== '') rows.push([k.replace('_', ' '), String(id[k])]);
    }
  }
  if (asset && asset.macs && asset.macs.length) rows.push(['MAC', asset.macs.join(', ')]);
  if (vlan !== undefined && vlan !== null) rows.push(['VLAN', Array.isArray(vlan) ? vlan.join(', ') : String(vlan)]);
  return h('section', {class: 'host-card', 'aria-label': title},
    h('h3', title),
    h('table', {class: 'kv'}, h('tbody', rows.map(([k, ...v]) => h('tr', h('th', {scope: 'row'}, k), h('td', ...v))))));
}

async function viewAlert(root, id, ctx) {
  setTitle('Alert');
  replace(root, h('p', {class: 'list-status'}, 'Loading…'));
  let a;
  try {
    a = await api(`/alerts/${encodeURIComponent(id)}`, {signal: ctx.signal});
  } catch (e) {
    replace(root, heading('Alert'), errorBox(e), h('p', h('a', {href: state.lastList}, '← Back to alerts')));
    return;
  }
  const [rule, src, dst] = await Promise.all([
    api(`/rules/${encodeURIComponent(a.signature_id)}`, {signal: ctx.signal}).catch(() => null),
    api(`/assets/${encodeURIComponent(a.src_ip)}`, {signal: ctx.signal}).catch(() => null),
    api(`/assets/${encodeURIComponent(a.dest_ip)}`, {signal: ctx.signal}).catch(() => null),
  ]);
  setTitle(a.signature || 'Alert');
  const stateEl = h('span', {id: 'alert-state'}, stateBadge(a.state));
  const stateInfo = h('p', {class: 'state-info muted'});
  const showState = () => {
    replace(stateEl, stateBadge(a.state));
    stateInfo.textContent = a.state_at ? `${a.state} by ${a.state_by || '?'} at ${fmtTime(a.state_at)}${a.state_note ? ` — ${a.state_note}` : ''}` : '';
    ackB.disabled = a.state === 'acknowledged';
    closeB.disabled = a.state === 'closed';
    reopenB.disabled = a.state === 'new';
  };
  const act = async (st) => {
    try {
      const r = await changeState([a.id], st);
      Object.assign(a, r.alerts[0]);
      showState();
      toast(`${STATE_VERB[st]}.`);
    } catch (e) {
      toast(`Could not change the state: ${e.message}`, 'error');
    }
  };
  const ackB = h('button', {type: 'button', class: 'action action-acknowledged', 'aria-keyshortcuts': 'a', on: {click: () => act('acknowledged')}}, 'Acknowledge');
  const closeB = h('button', {type: 'button', class: 'action action-closed', 'aria-keyshortcuts': 'c', on: {click: () => act('closed')}}, 'Close');
  const reopenB = h('button', {type: 'button', class: 'action action-new', 'aria-keyshortcuts': 'n', on: {click: () => act('new')}}, 'Reopen');

  const desc = rule && rule.description;
  const attacks = (a.attack && a.attack.length ? a.attack : (rule && rule.attack) || []);
  const tx = a.transaction;
  const txParts = tx ? Object.entries(tx).map(([proto, obj]) => h('div', {class: 'tx-block'}, h('h3', proto), transaction(proto, obj))) : [h('p', {class: 'muted'}, 'This alert carries no decoded transaction.')];
  const flow = a.flow || {};
  const related = h('div', {class: 'related'}, h('p', {class: 'muted'}, 'Loading…'));

  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: state.lastList}, '← Alerts'), h('span', {class: 'muted'}, ' (Esc)')),
    h('div', {class: 'alert-head'},
      sevBadge(a.severity_name),
      heading(String(a.signature || `rule ${a.signature_id}`)),
      stateEl),
    h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Alert state'}, ackB, closeB, reopenB, stateInfo),
    h('section', {class: 'card what', 'aria-labelledby': 'h-what'},
      h('h2', {id: 'h-what'}, 'What happened'),
      h('p', {class: 'plain'}, plainWords(a, rule, src, dst)),
      desc ? h('p', {class: 'rule-desc'}, String(desc)) : null,
      h('p', {class: 'muted'}, 'Rule ', h('a', {href: `#/rules/${encodeURIComponent(a.signature_id)}`}, `${a.signature_id}`),
        a.rev !== undefined && a.rev !== null ? ` rev ${a.rev}` : '', a.category ? ` · ${a.category}` : '', ` · sensor ${a.sensor || '?'} · alert id ${a.alert_id || a.id}`),
      h('h3', 'ATT&CK for ICS'),
      attacks.length ? h('ul', {class: 'attack-list'}, attacks.map((t) => {
        const info = technique(t);
        const url = techniqueUrl(t);
        return h('li', url ? h('a', {href: url, target: '_blank', rel: 'noopener noreferrer', class: 'attack'}, String(t)) : h('span', {class: 'attack'}, String(t)),
          ' ', info ? h('strong', info.name) : h('span', {class: 'muted'}, 'unknown technique'), info ? h('span', {class: 'muted'}, ` — ${info.tactics}`) : null);
      })) : h('p', {class: 'muted'}, 'No technique named by the rule.')),
    h('section', {class: 'card', 'aria-labelledby': 'h-who'},
      h('h2', {id: 'h-who'}, 'Who talked to whom'),
      h('div', {class: 'hosts'},
        hostCard('Source (client)', a.src_ip, a.src_port, src, flow.vlan),
        h('div', {class: 'arrow', 'aria-hidden': 'true'}, '→'),
        hostCard('Destination (server)', a.dest_ip, a.dest_port, dst, flow.vlan)),
      h('p', {class: 'muted'}, `Flow ${flow.flow_id ?? '—'} · ${flow.proto || ''} ${flow.app_proto || a.protocol || ''}${flow.vlan !== undefined ? ` · VLAN ${Array.isArray(flow.vlan) ? flow.vlan.join('/') : flow.vlan}` : ''} · seen ${fmtTime(a.timestamp)} · received ${fmtTime(a.received)}`)),
    h('section', {class: 'card', 'aria-labelledby': 'h-tx', id: 'transaction'},
      h('h2', {id: 'h-tx'}, 'Decoded transaction'), txParts,
      h('details', {class: 'raw'}, h('summary', 'EVE JSON line as received'), h('pre', JSON.stringify(a.eve, null, 2)))),
    h('section', {class: 'card', 'aria-labelledby': 'h-rel'},
      h('h2', {id: 'h-rel'}, 'Related alerts'), related));
  showState();
  focusTitle();

  ctx.keys = (ev) => {
    const st = {a: 'acknowledged', c: 'closed', n: 'new'}[ev.key];
    if (st) { act(st); return true; }
    if (ev.key === 'Escape') { location.hash = state.lastList || '#/alerts'; return true; }
    return false;
  };

  // Related: the same flow first, then the same hosts.
  try {
    const hosts = [...new Set([a.dest_ip, a.src_ip])];
    const lists = await Promise.all(hosts.map((ip) => api(`/alerts?host=${encodeURIComponent(ip)}&limit=100`, {signal: ctx.signal})));
    const seen = new Map();
    for (const l of lists) for (const x of l.alerts || []) if (x.id !== a.id) seen.set(x.id, x);
    const sameFlow = (x) => x.src_ip === a.src_ip && x.dest_ip === a.dest_ip && x.src_port === a.src_port && x.dest_port === a.dest_port;
    // Same flow first, then the same device (destination), then the same source.
    const tier = (x) => (sameFlow(x) ? 0 : (x.dest_ip === a.dest_ip || x.src_ip === a.dest_ip) ? 1 : 2);
    const tag = ['same flow', `same device ${a.dest_ip}`, `same source ${a.src_ip}`];
    const list = [...seen.values()].sort((x, y) => (tier(x) - tier(y)) || (parseTime(y.timestamp) - parseTime(x.timestamp))).slice(0, 30);
    if (!list.length) {
      replace(related, h('p', {class: 'muted'}, 'No other alert involves these hosts.'));
    } else {
      replace(related, h('div', {class: 'table-wrap'}, h('table', {class: 'mini related-table'},
        h('thead', h('tr', ['', 'Severity', 'Time', 'Alert', 'Hosts', 'State'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', list.map((x) => h('tr',
          h('td', h('span', {class: ['tag', `tag-${tier(x)}`]}, tag[tier(x)])),
          h('td', sevBadge(x.severity_name)),
          h('td', fmtTime(x.timestamp)),
          h('td', h('a', {href: `#/alerts/${encodeURIComponent(x.id)}`}, String(x.signature || x.signature_id))),
          h('td', `${x.src_ip} → ${x.dest_ip}`),
          h('td', stateBadge(x.state))))))));
    }
  } catch (e) {
    if (e.name !== 'AbortError') replace(related, errorBox(e));
  }
}

// ---------------------------------------------------------------- overview

async function viewOverview(root, params, ctx) {
  setTitle('Overview');
  const range = params.get('range') || '';
  const rangeSel = h('select', {id: 'o-range', 'aria-label': 'Time range'},
    [['', 'All time'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']]
      .map(([v, l]) => h('option', {value: v, selected: v === range}, l)));
  rangeSel.addEventListener('change', () => { location.hash = route('overview', {range: rangeSel.value}); });
  const cards = h('div', {class: 'cards'});
  const chart = h('div', {class: 'chart-wrap'}, h('p', {class: 'muted'}, 'Loading…'));
  const topRules = h('div');
  const topHosts = h('div');
  const byProto = h('div');
  const sensors = h('div');
  replace(root,
    h('div', {class: 'view-head'}, heading('Overview'), h('label', {class: 'field inline'}, h('span', {class: 'field-label'}, 'Period '), rangeSel)),
    cards,
    h('section', {class: 'card', 'aria-labelledby': 'h-time'}, h('h2', {id: 'h-time'}, 'Alerts over time'), chart),
    h('div', {class: 'grid2'},
      h('section', {class: 'card', 'aria-labelledby': 'h-rules'}, h('h2', {id: 'h-rules'}, 'Top rules'), topRules),
      h('section', {class: 'card', 'aria-labelledby': 'h-hosts'}, h('h2', {id: 'h-hosts'}, 'Top hosts'), topHosts)),
    h('div', {class: 'grid2'},
      h('section', {class: 'card', 'aria-labelledby': 'h-proto'}, h('h2', {id: 'h-proto'}, 'By protocol'), byProto),
      h('section', {class: 'card', 'aria-labelledby': 'h-sensors'}, h('h2', {id: 'h-sensors'}, 'Sensor health'), sensors)));
  focusTitle();

  const load = async () => {
    const from = RANGE_SEC[range] ? Math.floor(Date.now() / 1000) - RANGE_SEC[range] : undefined;
    const tq = (by, extra = {}) => {
      const q = new URLSearchParams({by, ...extra});
      if (from !== undefined) q.set('from', String(from));
      return `/counts?${q}`;
    };
    try {
      const [rules, sev, st, rc, hc, pc, sens, stats, assets] = await Promise.all([
        rulesMap(true).catch(() => new Map()), api(tq('severity')), api('/counts?by=state'), api(tq('rule')), api(tq('host')),
        api(tq('protocol')), api('/sensors'), api('/stats'), api('/assets').catch(() => ({assets: []})),
      ]);
      const total = (sev.counts || []).reduce((s2, c) => s2 + c.count, 0);
      const newCount = ((st.counts || []).find((c) => c.key === 'new') || {}).count || 0;
      replace(cards,
        h('a', {class: 'stat', href: route('alerts', {range})}, h('span', {class: 'stat-n'}, num(total)), h('span', {class: 'stat-l'}, range ? 'alerts in period' : 'alerts stored')),
        h('a', {class: 'stat stat-new', href: route('alerts', {state: 'new'})}, h('span', {class: 'stat-n'}, num(newCount)), h('span', {class: 'stat-l'}, 'new (not triaged)')),
        SEVERITIES.map((sv) => {
          const c = (sev.counts || []).find((x) => x.name === sv);
          return h('a', {class: ['stat', `stat-${sv}`], href: route('alerts', {severity: sv, range})}, h('span', {class: 'stat-n'}, num(c ? c.count : 0)), h('span', {class: 'stat-l'}, sv));
        }),
        h('div', {class: 'stat stat-store'}, h('span', {class: 'stat-n'}, bytes(stats.file_bytes)), h('span', {class: 'stat-l'}, 'store on disk')));
      const top = (counts, n = 10) => [...(counts || [])].sort((x, y) => y.count - x.count).slice(0, n);
      replace(topRules, bars(top(rc.counts).map((c) => ({label: `${c.key} — ${ruleName(rules, c.key, '')}`, count: c.count, href: route('alerts', {rule: c.key, range})})), {empty: 'No alerts yet.', label: 'Top rules'}));
      const byIp = new Map((assets.assets || []).map((x) => [x.ip, x]));
      replace(topHosts, bars(top(hc.counts).map((c) => {
        const idl = identityLine(byIp.get(c.key));
        return {label: [h('span', {class: 'ip'}, String(c.key)), idl ? h('span', {class: 'muted'}, ` ${idl}`) : null], count: c.count, href: route('alerts', {host: c.key, range})};
      }), {empty: 'No alerts yet.', label: 'Top hosts'}));
      replace(byProto, bars(top(pc.counts).map((c) => ({label: String(c.key), count: c.count, href: route('alerts', {protocol: c.key, range}), cls: `p-${c.key}`})), {empty: 'No alerts yet.', label: 'Alerts by protocol'}));
      replace(sensors, sensorTable(sens.sensors || []));
      await drawChart(from);
    } catch (e) {
      if (e.name !== 'AbortError') replace(cards, errorBox(e));
    }
  };

  const drawChart = async (from) => {
    const q = (bucket) => {
      const p = new URLSearchParams({by: 'time', bucket: String(bucket)});
      if (from !== undefined) p.set('from', String(from));
      return `/counts?${p}`;
    };
    let bucket = range === '24h' ? 900 : range === '30d' ? 86400 : 3600;
    let d = await api(q(bucket));
    const ts = (d.counts || []).map((c) => parseTime(c.start)).filter((t) => !Number.isNaN(t));
    if (ts.length && !range) {
      const span = Math.max(...ts) - Math.min(...ts);
      if (span <= 6 * 3600e3) bucket = 60;
      else if (span > 60 * 86400e3) bucket = 86400;
      if (bucket !== 3600) d = await api(q(bucket));
    }
    replace(chart, timeChart(d.counts || [], bucket),
      h('p', {class: 'muted'}, `Bars of ${bucket >= 3600 ? `${bucket / 3600} h` : `${bucket / 60} min`}, by the time the traffic was seen.`));
  };

  await load();
  // Live: new alerts refresh the overview (at most every 2 s).
  const refresh = debounce(load, 2000);
  const stop = openStream('', {onAlert: refresh});
  ctx.cleanup.push(stop);
  const timer = setInterval(() => api('/sensors').then((s2) => replace(sensors, sensorTable(s2.sensors || []))).catch(() => {}), 10000);
  ctx.cleanup.push(() => clearInterval(timer));
}

function sensorTable(list) {
  if (!list.length) return h('p', {class: 'muted'}, 'No sensor has reported yet.');
  return h('div', {class: 'table-wrap'}, h('table', {class: 'mini sensors'},
    h('thead', h('tr', ['Sensor', 'Last seen', 'Packets', 'Packets/s', 'Drops', 'Active flows', 'Alerts'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', list.map((sn) => {
      const ls = sn.last_stats || {};
      const st = sn.stats || {};
      const up = Number(st.uptime);
      const pps = ls.packets !== undefined && ls.packets !== null && up > 0 ? Number(ls.packets) / up : null;
      const drops = Number(ls.drops || 0);
      return h('tr',
        h('th', {scope: 'row'}, String(sn.name)),
        h('td', {title: fmtTime(sn.last_seen)}, ago(sn.last_seen) || fmtTime(sn.last_seen)),
        h('td', num(ls.packets)),
        h('td', pps === null ? '—' : num(Math.round(pps))),
        h('td', {class: drops > 0 ? 'warn' : ''}, num(ls.drops ?? 0)),
        h('td', num(ls.flows)),
        h('td', h('a', {href: route('alerts', {q: ''})}, num(sn.alerts))));
    }))));
}

// ---------------------------------------------------------------- assets

async function viewAssets(root, params, ctx) {
  setTitle('Assets');
  const q = params.get('q') || '';
  const proto = params.get('protocol') || '';
  const qIn = h('input', {type: 'search', id: 'asset-q', value: q, placeholder: 'IP, vendor, model…', autocomplete: 'off', spellcheck: 'false'});
  const protoSel = h('select', {id: 'asset-proto'}, [['', 'Any protocol'], ['modbus', 'modbus'], ['s7comm', 's7comm'], ['dnp3', 'dnp3']].map(([v, l]) => h('option', {value: v, selected: v === proto}, l)));
  const go = () => history.replaceState(null, '', route('assets', {q: qIn.value.trim(), protocol: protoSel.value}));
  const tableBox = h('div', {class: 'table-wrap'});
  const mapBox = h('div', {class: 'map-wrap'});
  replace(root,
    h('div', {class: 'view-head'}, heading('Assets')),
    h('form', {class: 'filters', role: 'search', on: {submit: (ev) => { ev.preventDefault(); go(); load(); }}},
      h('label', {for: 'asset-q', class: 'field'}, h('span', {class: 'field-label'}, 'Search'), qIn),
      h('label', {for: 'asset-proto', class: 'field'}, h('span', {class: 'field-label'}, 'Protocol'), protoSel)),
    h('section', {class: 'card', 'aria-labelledby': 'h-inv'}, h('h2', {id: 'h-inv'}, 'Inventory'), tableBox),
    h('section', {class: 'card', 'aria-labelledby': 'h-map'}, h('h2', {id: 'h-map'}, 'Who talks to whom'),
      h('p', {class: 'muted'}, 'Clients on the left, servers (PLCs, outstations) on the right; each line is a protocol and server port. Select a box to open the asset.'), mapBox));
  focusTitle();
  const typed = debounce(() => { go(); load(); }, 300);
  qIn.addEventListener('input', typed);
  protoSel.addEventListener('change', () => { go(); load(); });

  async function load() {
    const p = new URLSearchParams();
    if (qIn.value.trim()) p.set('q', qIn.value.trim());
    if (protoSel.value) p.set('protocol', protoSel.value);
    try {
      const [d, hc] = await Promise.all([api(`/assets?${p}`, {signal: ctx.signal}), api('/counts?by=host', {signal: ctx.signal}).catch(() => ({counts: []}))]);
      const alertsBy = new Map((hc.counts || []).map((c) => [c.key, c.count]));
      const list = (d.assets || []).sort((x, y) => ipKey(x.ip).localeCompare(ipKey(y.ip)));
      if (!list.length) {
        replace(tableBox, h('p', {class: 'muted'}, 'No asset matches.'));
        replace(mapBox);
        return;
      }
      replace(tableBox, h('table', {class: 'assets'},
        h('thead', h('tr', ['Address', 'Role', 'Protocols', 'Vendor', 'Product / model', 'Firmware', 'First seen', 'Last seen', 'Peers', 'Alerts'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', list.map((x) => {
          const id = x.identity || {};
          const model = [...new Set([id.product, id.model, id.module_name, id.order_number].filter((v) => v !== undefined && v !== null && v !== '').map(String))];
          return h('tr', {class: 'asset-row', tabindex: '0', dataset: {ip: x.ip},
            on: {
              click: (ev) => { if (!ev.target.closest('a')) location.hash = `#/assets/${encodeURIComponent(x.ip)}`; },
              keydown: (ev) => {
                if (ev.key === 'Enter') location.hash = `#/assets/${encodeURIComponent(x.ip)}`;
                else if (ev.key === 'ArrowDown' || ev.key === 'j') { ev.preventDefault(); if (ev.currentTarget.nextElementSibling) ev.currentTarget.nextElementSibling.focus(); }
                else if (ev.key === 'ArrowUp' || ev.key === 'k') { ev.preventDefault(); if (ev.currentTarget.previousElementSibling) ev.currentTarget.previousElementSibling.focus(); }
              },
            }},
          h('td', h('a', {href: `#/assets/${encodeURIComponent(x.ip)}`, class: 'ip', tabindex: '-1'}, String(x.ip))),
          h('td', (x.roles || []).join(', ')),
          h('td', (x.protocols || []).join(', ')),
          h('td', {class: 'ident'}, id.vendor !== undefined ? String(id.vendor) : '—'),
          h('td', {class: 'ident'}, model.length ? model.join(' · ') : '—'),
          h('td', {class: 'ident'}, id.firmware !== undefined ? String(id.firmware) : '—'),
          h('td', fmtTime(x.first_seen)),
          h('td', fmtTime(x.last_seen)),
          h('td', num((x.peers || []).length)),
          h('td', alertsBy.get(x.ip) ? h('a', {href: route('alerts', {host: x.ip}), tabindex: '-1'}, num(alertsBy.get(x.ip))) : '0'));
        }))));
      replace(mapBox, commMap(list, (ip) => { location.hash = `#/assets/${encodeURIComponent(ip)}`; }));
    } catch (e) {
      if (e.name !== 'AbortError') replace(tableBox, errorBox(e));
    }
  }
  await load();
}

function ipKey(ip) {
  const p = String(ip).split('.');
  return p.length === 4 ? p.map((x) => x.padStart(3, '0')).join('.') : String(ip);
}

async function viewAsset(root, ip, ctx) {
  setTitle(ip);
  let a;
  try {
    a = await api(`/assets/${encodeURIComponent(ip)}`, {signal: ctx.signal});
  } catch (e) {
    replace(root, h('p', {class: 'crumbs'}, h('a', {href: '#/assets'}, '← Assets')), heading(ip), errorBox(e));
    return;
  }
  const id = a.identity;
  const recent = h('div', h('p', {class: 'muted'}, 'Loading…'));
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: '#/assets'}, '← Assets'), h('span', {class: 'muted'}, ' (Esc)')),
    h('div', {class: 'view-head'}, heading(String(a.ip)), h('span', {class: 'muted'}, ` ${(a.roles || []).join(', ')}`)),
    h('div', {class: 'grid2'},
      h('section', {class: 'card', 'aria-labelledby': 'h-id'}, h('h2', {id: 'h-id'}, 'Identity'),
        id ? tree(id) : h('p', {class: 'muted'}, 'The device has not identified itself (no device identification, SZL or attribute read seen).'),
        a.identity_changes ? h('p', {class: 'warn'}, `Identity changed ${a.identity_changes} time${a.identity_changes === 1 ? '' : 's'}.`) : null),
      h('section', {class: 'card', 'aria-labelledby': 'h-net'}, h('h2', {id: 'h-net'}, 'Network'),
        h('table', {class: 'kv'}, h('tbody',
          [['Roles', (a.roles || []).join(', ')], ['Protocols', (a.protocols || []).join(', ')], ['MAC', (a.macs || []).join(', ') || '—'],
            ['VLAN', (a.vlans || []).join(', ') || 'none'], ['Sensors', (a.sensors || []).join(', ')],
            ['First seen', fmtTime(a.first_seen)], ['Last seen', `${fmtTime(a.last_seen)} (${ago(a.last_seen)})`]]
            .map(([k, v]) => h('tr', h('th', {scope: 'row'}, k), h('td', String(v)))))))),
    h('section', {class: 'card', 'aria-labelledby': 'h-peers'}, h('h2', {id: 'h-peers'}, 'Peers'),
      (a.peers || []).length ? h('table', {class: 'mini'}, h('thead', h('tr', ['Peer', 'Protocol', 'Server port'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', a.peers.map((p) => h('tr', h('td', h('a', {href: `#/assets/${encodeURIComponent(p.ip)}`, class: 'ip'}, String(p.ip))), h('td', String(p.protocol || '')), h('td', String(p.port ?? '')))))) : h('p', {class: 'muted'}, 'No peers seen.')),
    (a.identity_history || []).length ? h('section', {class: 'card', 'aria-labelledby': 'h-hist'}, h('h2', {id: 'h-hist'}, 'Identity changes'),
      a.identity_history.map((c) => h('div', {class: 'change'}, h('p', fmtTime(c.at), ': ', (c.changed || []).join(', ')), h('div', {class: 'grid2'}, h('div', h('h4', 'Before'), tree(c.old)), h('div', h('h4', 'After'), tree(c.new)))))) : null,
    h('section', {class: 'card', 'aria-labelledby': 'h-recent'}, h('h2', {id: 'h-recent'}, 'Recent alerts'), recent,
      h('p', h('a', {href: route('alerts', {host: a.ip})}, 'All alerts of this host →'))));
  focusTitle();
  ctx.keys = (ev) => {
    if (ev.key === 'Escape') { location.hash = '#/assets'; return true; }
    return false;
  };
  try {
    const d = await api(`/alerts?host=${encodeURIComponent(a.ip)}&limit=10`, {signal: ctx.signal});
    replace(recent, (d.alerts || []).length ? h('table', {class: 'mini'}, h('tbody', d.alerts.map((x) => h('tr',
      h('td', sevBadge(x.severity_name)), h('td', fmtTime(x.timestamp)), h('td', h('a', {href: `#/alerts/${encodeURIComponent(x.id)}`}, String(x.signature || x.signature_id))),
      h('td', `${x.src_ip} → ${x.dest_ip}`), h('td', stateBadge(x.state)))))) : h('p', {class: 'muted'}, 'No alert involves this host.'));
  } catch (e) {
    if (e.name !== 'AbortError') replace(recent, errorBox(e));
  }
}

// ---------------------------------------------------------------- rules

async function viewRules(root, params, ctx) {
  setTitle('Rules');
  const q = (params.get('q') || '').toLowerCase();
  const qIn = h('input', {type: 'search', id: 'rule-q', value: q, placeholder: 'id, name, protocol, technique…', autocomplete: 'off'});
  const box = h('div', {class: 'table-wrap'}, h('p', {class: 'muted'}, 'Loading…'));
  replace(root, h('div', {class: 'view-head'}, heading('Rules')),
    h('form', {class: 'filters', role: 'search', on: {submit: (ev) => ev.preventDefault()}},
      h('label', {for: 'rule-q', class: 'field'}, h('span', {class: 'field-label'}, 'Filter'), qIn)), box);
  focusTitle();
  let rules;
  try {
    rules = [...(await rulesMap(true)).values()];
    const extra = (await api('/rules', {signal: ctx.signal})).rules || [];
    for (const r of extra) if (!rules.some((x) => x.id === r.id)) rules.push(r);
  } catch (e) {
    if (e.name !== 'AbortError') replace(box, errorBox(e));
    return;
  }
  const draw = () => {
    const t = qIn.value.trim().toLowerCase();
    history.replaceState(null, '', route('rules', {q: t}));
    const shown = rules.filter((r) => !t || JSON.stringify([r.id, r.name, r.protocol, r.severity, r.attack]).toLowerCase().includes(t))
      .sort((x, y) => x.id - y.id);
    if (!rules.length) {
      replace(box, h('p', {class: 'muted'}, 'No rules are loaded in the analyzer (the sensor or `otwatch run` sends them).'));
      return;
    }
    replace(box, h('table', {class: 'rules'},
      h('thead', h('tr', ['Id', 'Name', 'Severity', 'Protocol', 'ATT&CK', 'Hits', 'Last hit'].map((x) => h('th', {scope: 'col'}, x)))),
      h('tbody', shown.map((r) => h('tr', {class: 'rule-row', tabindex: '0', dataset: {id: r.id},
        on: {
          click: (ev) => { if (!ev.target.closest('a')) location.hash = `#/rules/${r.id}`; },
          keydown: (ev) => {
            if (ev.key === 'Enter') location.hash = `#/rules/${r.id}`;
            else if (ev.key === 'ArrowDown' || ev.key === 'j') { ev.preventDefault(); if (ev.currentTarget.nextElementSibling) ev.currentTarget.nextElementSibling.focus(); }
            else if (ev.key === 'ArrowUp' || ev.key === 'k') { ev.preventDefault(); if (ev.currentTarget.previousElementSibling) ev.currentTarget.previousElementSibling.focus(); }
          },
        }},
      h('td', h('a', {href: `#/rules/${r.id}`, tabindex: '-1'}, String(r.id))),
      h('td', r.name ? String(r.name) : h('span', {class: 'muted'}, r.loaded === false ? '(not loaded)' : '—')),
      h('td', r.severity ? sevBadge(String(r.severity)) : '—'),
      h('td', String(r.protocol || '—')),
      h('td', attackChips(r.attack)),
      h('td', {class: 'num'}, r.hits ? h('a', {href: route('alerts', {rule: r.id}), tabindex: '-1'}, num(r.hits)) : '0'),
      h('td', r.last_hit ? fmtTime(r.last_hit) : '—'))))));
  };
  qIn.addEventListener('input', debounce(draw, 200));
  draw();
}

async function viewRule(root, id, ctx) {
  setTitle(`Rule ${id}`);
  let r;
  try {
    r = await api(`/rules/${encodeURIComponent(id)}`, {signal: ctx.signal});
  } catch (e) {
    replace(root, h('p', {class: 'crumbs'}, h('a', {href: '#/rules'}, '← Rules')), heading(`Rule ${id}`), errorBox(e),
      h('p', h('a', {href: route('alerts', {rule: id})}, 'Alerts of this rule →')));
    return;
  }
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: '#/rules'}, '← Rules'), h('span', {class: 'muted'}, ' (Esc)')),
    h('div', {class: 'alert-head'}, sevBadge(String(r.severity)), heading(`${r.id} ${r.name}`)),
    h('section', {class: 'card'},
      h('p', String(r.description || '')),
      h('table', {class: 'kv'}, h('tbody',
        h('tr', h('th', {scope: 'row'}, 'Protocol'), h('td', String(r.protocol))),
        h('tr', h('th', {scope: 'row'}, 'Revision'), h('td', String(r.rev))),
        h('tr', h('th', {scope: 'row'}, 'ATT&CK'), h('td', (r.attack || []).map((t, i) => [i ? ', ' : '', h('span', {class: 'attack'}, String(t)), technique(t) ? ` ${technique(t).name}` : '']))),
        h('tr', h('th', {scope: 'row'}, 'Hits'), h('td', h('a', {href: route('alerts', {rule: r.id})}, `${num(r.hits)} alert${r.hits === 1 ? '' : 's'}`), r.last_hit ? `, last ${fmtTime(r.last_hit)}` : '')))),
      h('h2', 'YAML'),
      h('pre', {class: 'yaml', tabindex: '0', 'aria-label': 'Rule source'}, String(r.yaml || '(no source sent)'))));
  focusTitle();
  ctx.keys = (ev) => {
    if (ev.key === 'Escape') { location.hash = '#/rules'; return true; }
    return false;
  };
}

// ---------------------------------------------------------------- login

function loggedIn(yes) {
  const b = $('#logout-btn');
  if (b) b.hidden = !yes;
}

/** The login form, in place of the view: posts the API token, gets the cookie. */
function needLogin() {
  loggedIn(false);
  if ($('#login-form')) return;
  const root = main();
  const input = h('input', {type: 'password', id: 'login-token', autocomplete: 'current-password', required: true, spellcheck: 'false'});
  const msg = h('p', {id: 'login-error', class: 'error', role: 'alert', hidden: true});
  const fail = (text) => {
    msg.textContent = text;
    msg.hidden = false;
    input.select();
  };
  if (state.loginFailed) {
    state.loginFailed = false;
    fail('That login link has a wrong token.');
  }
  replace(root, heading('Log in'),
    h('form', {id: 'login-form', class: 'card', on: {submit: async (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      let r;
      try {
        r = await fetch(`${API}/login`, {method: 'POST', headers: headers({'Content-Type': 'application/json'}),
          body: JSON.stringify({token}), cache: 'no-store', credentials: 'same-origin'});
      } catch (e) {
        fail(`The analyzer did not answer: ${e.message}`);
        return;
      }
      input.value = '';
      if (r.ok) {
        loggedIn(true);
        render();
      } else if (r.status === 401) {
        fail('That is not the API token.');
      } else {
        let err = `${r.status} ${r.statusText}`;
        try { err = (await r.json()).error || err; } catch { /* not JSON */ }
        fail(err);
      }
    }}},
    h('p', 'Open the login link that otwatch prints when it starts (',
      h('code', 'http://HOST:PORT/?token=…'), '), or paste the API token: ', h('code', 'api_token'),
      ' of the configuration, ', h('code', 'OTWATCH_API_TOKEN'), ', or the file ', h('code', 'api-token'),
      ' in the data directory.'),
    h('label', {for: 'login-token', class: 'field'}, h('span', {class: 'field-label'}, 'API token'), input),
    msg,
    h('button', {type: 'submit', class: 'action'}, 'Log in')));
  document.body.dataset.ready = 'login';
  input.focus();
}

async function logout() {
  try {
    await fetch(`${API}/logout`, {method: 'POST', headers: headers({'Content-Type': 'application/json'}),
      body: '{}', cache: 'no-store', credentials: 'same-origin'});
  } catch (e) {
    console.warn('logout', e);
  }
  if (state.view) {
    for (const fn of state.view.cleanup) {
      try { fn(); } catch (e) { console.warn(e); }
    }
    state.view.abort.abort();
    state.view = null;
  }
  state.rules = null;
  needLogin();
}

/**
 * The login link's query (?token=…) never stays in the address bar or the
 * history: the analyzer answers it with a redirect to /, and should the page
 * still see one (a wrong token comes back as ?login=failed), it is dropped
 * here, keeping the #/route.
 */
function dropLoginQuery() {
  const q = new URLSearchParams(location.search);
  if (!q.has('token') && !q.has('login')) return;
  state.loginFailed = q.get('login') === 'failed';
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
}

// ---------------------------------------------------------------- router

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  const params = new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return {parts, params};
}

async function render() {
  if (state.view) {
    for (const fn of state.view.cleanup) {
      try { fn(); } catch (e) { console.warn(e); }
    }
    state.view.abort.abort();
  }
  const abort = new AbortController();
  const ctx = {cleanup: [], signal: abort.signal, abort, keys: null};
  state.view = ctx;
  const {parts, params} = parseHash();
  const [page = 'overview', arg] = parts;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  liveStatus('off');
  const root = main();
  root.dataset.view = page + (arg ? '-detail' : '');
  try {
    if (page === 'alerts' && arg) await viewAlert(root, arg, ctx);
    else if (page === 'alerts') await viewAlerts(root, params, ctx);
    else if (page === 'assets' && arg) await viewAsset(root, arg, ctx);
    else if (page === 'assets') await viewAssets(root, params, ctx);
    else if (page === 'rules' && arg) await viewRule(root, arg, ctx);
    else if (page === 'rules') await viewRules(root, params, ctx);
    else if (page === 'overview') await viewOverview(root, params, ctx);
    else replace(root, heading('Not found'), h('p', 'There is no such page. ', h('a', {href: '#/overview'}, 'Go to the overview.')));
  } catch (e) {
    if (e.name !== 'AbortError' && e.status !== 401) replace(root, heading('Error'), errorBox(e));
  }
  if (state.view === ctx && !$('#login-form')) document.body.dataset.ready = page;
}

// ---------------------------------------------------------------- keyboard

let gPending = 0;
function onKey(ev) {
  if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  const typing = t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
  const help = $('#help');
  if (typing) {
    if (ev.key === 'Escape' && t.blur) t.blur();
    return;
  }
  if (help.open) return;
  if (ev.key === '?') { ev.preventDefault(); help.showModal(); return; }
  if (gPending && Date.now() - gPending < 1500) {
    gPending = 0;
    const dest = {o: '#/overview', a: '#/alerts', i: '#/assets', r: '#/rules'}[ev.key];
    if (dest) { ev.preventDefault(); location.hash = dest; }
    return;
  }
  if (ev.key === 'g') { gPending = Date.now(); return; }
  if (ev.key === '/') {
    ev.preventDefault();
    const q = $('#q') || $('#asset-q') || $('#rule-q');
    if (q) q.focus(); else location.hash = '#/alerts';
    return;
  }
  if (state.view && state.view.keys && state.view.keys(ev)) ev.preventDefault();
}

// ---------------------------------------------------------------- start

function start() {
  const who = $('#analyst');
  who.value = state.analyst;
  who.addEventListener('change', () => {
    state.analyst = who.value.trim().slice(0, 128) || 'analyst';
    localStorage.setItem('otwatch.analyst', state.analyst);
  });
  $('#help-btn').addEventListener('click', () => $('#help').showModal());
  $('#logout-btn').addEventListener('click', logout);
  $('#help-close').addEventListener('click', () => $('#help').close());
  $('#skip').addEventListener('click', (ev) => { ev.preventDefault(); main().focus(); });
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', render);
  dropLoginQuery();
  if (!location.hash) history.replaceState(null, '', `${location.pathname}#/overview`);
  render();
}

start();
