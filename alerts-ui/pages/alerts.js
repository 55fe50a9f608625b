// The alert list, #/alerts?…: severity toggles with their counts, the filter
// form, the table with its selection and row keys, and the live stream that
// puts new alerts on top. The filters live in the route, so a filtered list
// is a link. By default duplicates are shown as groups (one rule, source,
// destination and sensor within an hour; `GroupTable`), each of which opens
// to its alerts; `group=off` in the route lists every alert. #/alert-groups/ID
// is one group with all its alerts (`viewGroup`).

import {h, replace, fmtTime, num, SEVERITIES, sevBadge, stateBadge} from '../dom.js';
import {api, rulesMap, changeState, changeGroupState, protocolsOrNone} from '../api.js';
import {openStream} from '../stream.js';
import {state} from '../state.js';
import {liveStatus, toast, errorBox, setTitle, heading, debounce} from '../page.js';
import {attackChips, ruleName, STATE_VERB, KEY_STATE} from '../labels.js';
import {RANGES, filtersFrom, filtersRoute, timeBounds, apiQuery, toLocalInput, fromLocalInput} from '../filters.js';

const STATES = [['', 'Any state'], ['open', 'Open (new + acknowledged)'], ['new', 'New'], ['acknowledged', 'Acknowledged'], ['closed', 'Closed']];

/** One toggle per severity, each with its count; `onChange` after f.severity changed. */
function severityToggles(f, onChange) {
  const buttons = new Map();
  const node = h('div', {class: 'sev-counts', role: 'group', 'aria-label': 'Severity filter and counts'},
    SEVERITIES.map((sv) => {
      const b = h('button', {type: 'button', class: ['sev-toggle', `sev-${sv}`], 'aria-pressed': String(f.severity.includes(sv)), dataset: {sev: sv},
        on: {click: () => {
          f.severity = f.severity.includes(sv) ? f.severity.filter((x) => x !== sv) : [...f.severity, sv];
          b.setAttribute('aria-pressed', String(f.severity.includes(sv)));
          onChange();
        }}},
      h('span', {class: 'sev-name'}, sv), ' ', h('span', {class: 'sev-count'}, '…'));
      buttons.set(sv, b);
      return b;
    }));
  /** Shows the counts of /counts?by=severity. */
  const show = (counts) => {
    for (const sv of SEVERITIES) {
      const c = (counts || []).find((x) => x.name === sv);
      buttons.get(sv).querySelector('.sev-count').textContent = num(c ? c.count : 0);
    }
  };
  return {node, show};
}

/**
 * The filter form over `f` (time range, protocol, rule, host, state, text);
 * `onChange` after the form was read into `f`.
 */
function filterForm(f, rules, protocols, onChange) {
  const rangeSel = h('select', {id: 'f-range', name: 'range'}, RANGES.map(([v, l]) => h('option', {value: v, selected: f.range === v}, l)));
  const fromIn = h('input', {type: 'datetime-local', id: 'f-from', value: toLocalInput(f.from), 'aria-label': 'From'});
  const toIn = h('input', {type: 'datetime-local', id: 'f-to', value: toLocalInput(f.to), 'aria-label': 'To'});
  const custom = h('span', {class: 'custom-range', hidden: f.range !== 'custom'}, fromIn, ' – ', toIn);
  const protoSel = h('select', {id: 'f-protocol', name: 'protocol'}, h('option', {value: ''}, 'Any protocol'));
  const ruleSel = h('select', {id: 'f-rule', name: 'rule'}, h('option', {value: ''}, 'Any rule'));
  const hostIn = h('input', {type: 'text', id: 'f-host', name: 'host', value: f.host, placeholder: 'IP address', inputmode: 'decimal', autocomplete: 'off', spellcheck: 'false'});
  const stateSel = h('select', {id: 'f-state', name: 'state'}, STATES.map(([v, l]) => h('option', {value: v, selected: f.state === v}, l)));
  const qIn = h('input', {type: 'search', id: 'q', name: 'q', value: f.q, placeholder: 'Search text (press /)', autocomplete: 'off', spellcheck: 'false', maxlength: '256'});

  // The analyzer's protocols, the one in the route, and any an alert shown carries.
  const protos = new Set([...protocols.map((p) => p.name), f.protocol].filter(Boolean));
  const fillProtocols = () => {
    replace(protoSel, h('option', {value: ''}, 'Any protocol'), [...protos].sort().map((p) => h('option', {value: p, selected: f.protocol === p}, p)));
  };
  /** Adds the protocols of alerts shown to the choice. */
  const addProtocols = (names) => {
    const before = protos.size;
    for (const p of names) if (p) protos.add(p);
    if (protos.size !== before) fillProtocols();
  };
  /** The rule choice: the loaded rules, `extra` ids (rules that fired but are not loaded) and the one filtered on. */
  const fillRules = (extra = []) => {
    const ids = new Set([...rules.keys(), ...extra.map(Number)]);
    if (f.rule) ids.add(Number(f.rule));
    replace(ruleSel, h('option', {value: ''}, 'Any rule'),
      [...ids].sort((a, b) => a - b).map((id) => h('option', {value: String(id), selected: String(id) === f.rule}, `${id} — ${ruleName(rules, id, '')}`)));
  };
  fillProtocols();
  fillRules();

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
  const changed = () => {
    readForm();
    onChange();
  };
  const lbl = (forId, t, el) => h('label', {for: forId, class: 'field'}, h('span', {class: 'field-label'}, t), el);
  const node = h('form', {class: 'filters', role: 'search', 'aria-label': 'Alert filters', on: {submit: (ev) => { ev.preventDefault(); changed(); }}},
    lbl('f-range', 'Time', rangeSel), custom,
    lbl('f-protocol', 'Protocol', protoSel),
    lbl('f-rule', 'Rule', ruleSel),
    lbl('f-host', 'Host', hostIn),
    lbl('f-state', 'State', stateSel),
    lbl('q', 'Text', qIn),
    h('button', {type: 'button', class: 'link-button', on: {click: () => { location.hash = '#/alerts'; }}}, 'Clear filters'));
  for (const el of [rangeSel, protoSel, ruleSel, stateSel, fromIn, toIn]) el.addEventListener('change', changed);
  qIn.addEventListener('input', debounce(changed, 350));
  hostIn.addEventListener('change', changed);
  hostIn.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); changed(); } });
  return {node, addProtocols, fillRules};
}

/** Acknowledge / close / reopen for the selected alerts (or groups); `onAction(state)`. */
function selectionToolbar(onAction, what = 'alerts') {
  const info = h('span', {class: 'sel-info', 'aria-live': 'polite'}, '');
  const btn = (label, st, key) => h('button', {type: 'button', class: ['action', `action-${st}`], disabled: true, 'aria-keyshortcuts': key, on: {click: () => onAction(st)}}, label);
  const buttons = [btn('Acknowledge', 'acknowledged', 'a'), btn('Close', 'closed', 'c'), btn('Reopen', 'new', 'n')];
  const node = h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': `Selected ${what}`}, info, buttons);
  /** Says how many are selected; the buttons work when some are. */
  const update = (n) => {
    info.textContent = n ? `${n} selected` : 'None selected';
    for (const b of buttons) b.disabled = n === 0;
  };
  return {node, update};
}

/**
 * The table of alerts: one row per alert (by id), a selection with a
 * select-all box, one focusable row at a time (roving tabindex) and the row
 * keys. `on.open(id)`, `on.bulk(state, ids)`, `on.selection()` (the
 * selection changed).
 */
/** Rows, focus and selection shared by the alert and group tables: `rows`
 * maps an id to its row ({tr, box}) in `tbody`, `selected` holds the
 * selected ids, `selAll` is the select-all box and `on.selection` is told of
 * each change; one row at a time takes the focus (roving tabindex). */
class Selectable {
  clear() {
    this.rows.clear();
    this.selected.clear();
    this.tbody.replaceChildren();
  }

  /** The row that takes the focus (tabindex 0), if any. */
  focused() {
    return this.tbody.querySelector('tr[tabindex="0"]');
  }

  rovingTo(tr) {
    for (const r of this.tbody.querySelectorAll('tr[tabindex="0"]')) if (r !== tr) r.tabIndex = -1;
    tr.tabIndex = 0;
  }

  focusRow(tr) {
    if (!tr) return;
    this.rovingTo(tr);
    tr.focus();
  }

  toggle(id, yes) {
    const r = this.rows.get(id);
    if (!r) return;
    if (yes) this.selected.add(id); else this.selected.delete(id);
    r.box.checked = yes;
    r.tr.classList.toggle('selected', yes);
    this.on.selection();
  }

  selectAll(yes) {
    for (const [id, r] of this.rows) {
      if (yes) this.selected.add(id); else this.selected.delete(id);
      r.box.checked = yes;
      r.tr.classList.toggle('selected', yes);
    }
    this.on.selection();
  }

  /** Unselects every row (without telling `on.selection`). */
  unselectAll() {
    this.selected.clear();
    for (const row of this.rows.values()) {
      row.box.checked = false;
      row.tr.classList.remove('selected');
    }
  }

  /** The select-all box follows the selection: checked, mixed or clear. */
  showSelection() {
    const n = this.selected.size;
    this.selAll.checked = n > 0 && n === this.rows.size;
    this.selAll.indeterminate = n > 0 && n < this.rows.size;
  }
}

class AlertTable extends Selectable {
  constructor(rules, on) {
    super();
    this.rules = rules;
    this.on = on;
    this.rows = new Map(); // id → {alert, tr, box}
    this.selected = new Set();
    this.selAll = h('input', {type: 'checkbox', 'aria-label': 'Select all shown alerts', on: {change: () => this.selectAll(this.selAll.checked)}});
    this.tbody = h('tbody', {on: {keydown: (ev) => this.rowKey(ev)}});
    this.node = h('table', {class: 'alerts', 'aria-label': 'Alerts, newest first', 'aria-describedby': 'list-help'},
      h('thead', h('tr',
        h('th', {class: 'c-sel', scope: 'col'}, this.selAll),
        h('th', {scope: 'col', class: 'c-sev'}, 'Severity'),
        h('th', {scope: 'col', class: 'c-time'}, 'Time'),
        h('th', {scope: 'col', class: 'c-rule'}, 'Alert'),
        h('th', {scope: 'col', class: 'c-proto'}, 'Protocol'),
        h('th', {scope: 'col', class: 'c-hosts'}, 'Source → destination'),
        h('th', {scope: 'col', class: 'c-attack'}, 'ATT&CK'),
        h('th', {scope: 'col', class: 'c-state'}, 'State'))),
      this.tbody);
  }

  /** A new row for alert `a` (marked fresh when it came live), not yet in the table. */
  makeRow(a, isFresh) {
    const box = h('input', {type: 'checkbox', tabindex: '-1', 'aria-label': `Select alert ${a.signature || a.signature_id}`, checked: this.selected.has(a.id),
      on: {click: (ev) => ev.stopPropagation(), change: () => this.toggle(a.id, box.checked)}});
    const tr = h('tr', {class: ['alert-row', isFresh ? 'fresh' : '', `sev-row-${a.severity_name}`], tabindex: '-1', dataset: {id: a.id, state: a.state},
      'aria-label': `${a.severity_name} ${a.signature || ''} from ${a.src_ip} to ${a.dest_ip}, ${a.state}`,
      on: {
        click: (ev) => { if (!ev.target.closest('a, input, button')) this.on.open(a.id); },
        focus: () => this.rovingTo(tr),
      }},
    h('td', {class: 'c-sel'}, box),
    h('td', {class: 'c-sev'}, sevBadge(a.severity_name)),
    h('td', {class: 'c-time', title: String(a.timestamp || '')}, fmtTime(a.timestamp)),
    h('td', {class: 'c-rule'}, h('a', {href: `#/alerts/${encodeURIComponent(a.id)}`, tabindex: '-1', class: 'sig'}, String(a.signature || ruleName(this.rules, a.signature_id))),
      h('span', {class: 'sub'}, ` ${a.category ? `${a.category} · ` : ''}rule ${a.signature_id}`)),
    h('td', {class: 'c-proto'}, String(a.protocol || '')),
    h('td', {class: 'c-hosts'}, h('span', {class: 'ip'}, `${a.src_ip}${a.src_port ? `:${a.src_port}` : ''}`), ' → ',
      h('span', {class: 'ip'}, `${a.dest_ip}${a.dest_port ? `:${a.dest_port}` : ''}`)),
    h('td', {class: 'c-attack'}, attackChips(a.attack)),
    h('td', {class: 'c-state'}, stateBadge(a.state)));
    this.rows.set(a.id, {alert: a, tr, box});
    return tr;
  }

  /** Appends the alerts of a page (older ones below). */
  append(alerts) {
    for (const a of alerts) {
      if (this.rows.has(a.id)) continue;
      this.tbody.appendChild(this.makeRow(a, false));
    }
    const first = this.tbody.firstElementChild;
    if (first && !this.focused()) first.tabIndex = 0;
  }

  /** Puts a live alert on top; false if it is shown already. */
  prepend(a) {
    if (this.rows.has(a.id)) return false;
    const tr = this.makeRow(a, true);
    const focused = this.focused();
    this.tbody.insertBefore(tr, this.tbody.firstElementChild);
    if (!focused) tr.tabIndex = 0;
    return true;
  }


  /** Alerts `ids` are now in state `st`; `stored` is the analyzer's answer. */
  setState(ids, st, stored) {
    for (const id of ids) {
      const row = this.rows.get(id);
      if (!row) continue;
      row.alert.state = st;
      replace(row.tr.querySelector('.c-state'), stateBadge(st));
      row.tr.dataset.state = st;
      if (stored && stored[0]) row.alert = stored[0];
    }
  }

  /** Keys on a focused row: move, open, select, change state. */
  rowKey(ev) {
    const tr = ev.target.closest('tr.alert-row');
    if (!tr || ev.target !== tr || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const id = tr.dataset.id;
    const k = ev.key;
    if (k === 'ArrowDown' || k === 'j') { ev.preventDefault(); this.focusRow(tr.nextElementSibling); }
    else if (k === 'ArrowUp' || k === 'k') { ev.preventDefault(); this.focusRow(tr.previousElementSibling || tr); }
    else if (k === 'Home') { ev.preventDefault(); this.focusRow(this.tbody.firstElementChild); }
    else if (k === 'End') { ev.preventDefault(); this.focusRow(this.tbody.lastElementChild); }
    else if (k === 'Enter') { ev.preventDefault(); this.on.open(id); }
    else if (k === ' ' || k === 'x') { ev.preventDefault(); this.toggle(id, !this.selected.has(id)); }
    else if (KEY_STATE.has(k)) {
      ev.preventDefault();
      this.on.bulk(KEY_STATE.get(k), this.selected.size ? [...this.selected] : [id]);
    } else return;
    ev.stopPropagation();
  }
}

/** "18 alerts" / "1 alert". */
const alertsWord = (n) => `${num(n)} alert${Number(n) === 1 ? '' : 's'}`;

/** A row of one member of a group (under its group row): open it with Enter or a click. */
function memberRow(a, rules, gid, onOpen) {
  return h('tr', {class: ['member-row', `sev-row-${a.severity_name}`], tabindex: '-1', dataset: {id: a.id, group: gid, state: a.state},
    'aria-label': `alert ${a.signature || a.signature_id} at ${fmtTime(a.timestamp)}, ${a.state}`,
    on: {click: (ev) => { if (!ev.target.closest('a, input, button')) onOpen(a.id); }}},
  h('td', {class: 'c-sel'}),
  h('td', {class: 'c-expand'}),
  h('td', {class: 'c-sev'}, sevBadge(a.severity_name)),
  h('td', {class: 'c-time', title: String(a.timestamp || '')}, fmtTime(a.timestamp)),
  h('td', {class: 'c-rule'}, h('a', {href: `#/alerts/${encodeURIComponent(a.id)}`, tabindex: '-1', class: 'sig'}, String(a.signature || ruleName(rules, a.signature_id))),
    h('span', {class: 'sub'}, `flow ports ${a.src_port ?? '—'} → ${a.dest_port ?? '—'}`)),
  h('td', {class: 'c-count'}),
  h('td', {class: 'c-first'}),
  h('td', {class: 'c-hosts'}, h('span', {class: 'ip'}, String(a.src_ip)), ' → ', h('span', {class: 'ip'}, String(a.dest_ip))),
  h('td', {class: 'c-state'}, stateBadge(a.state)));
}

/**
 * The table of alert groups: one row per group (rule, source → destination,
 * count, first and last seen, state, severity) that opens to its alerts, a
 * selection of groups with a select-all box, one focusable row at a time and
 * the row keys (→/Enter open a group, ← close it). `on.open(alertId)`,
 * `on.bulk(state, groupIds)`, `on.selection()`.
 */
class GroupTable extends Selectable {
  constructor(rules, on) {
    super();
    this.rules = rules;
    this.on = on;
    this.rows = new Map(); // group id → {group, tr, box, members: [tr] | null, seq}
    this.selected = new Set();
    this.selAll = h('input', {type: 'checkbox', 'aria-label': 'Select all shown groups', on: {change: () => this.selectAll(this.selAll.checked)}});
    this.tbody = h('tbody', {on: {keydown: (ev) => this.rowKey(ev)}});
    this.node = h('table', {class: 'alerts groups', 'aria-label': 'Alert groups, latest first', 'aria-describedby': 'list-help'},
      h('thead', h('tr',
        h('th', {class: 'c-sel', scope: 'col'}, this.selAll),
        h('th', {class: 'c-expand', scope: 'col'}, h('span', {class: 'visually-hidden'}, 'Alerts of the group')),
        h('th', {scope: 'col', class: 'c-sev'}, 'Severity'),
        h('th', {scope: 'col', class: 'c-time'}, 'Last seen'),
        h('th', {scope: 'col', class: 'c-rule'}, 'Alert'),
        h('th', {scope: 'col', class: 'c-count'}, 'Count'),
        h('th', {scope: 'col', class: 'c-first'}, 'First seen'),
        h('th', {scope: 'col', class: 'c-hosts'}, 'Source → destination'),
        h('th', {scope: 'col', class: 'c-state'}, 'State'))),
      this.tbody);
  }

  /** A new row for group `g` (marked fresh when it changed live). */
  makeRow(g, isFresh) {
    const name = String(g.signature || ruleName(this.rules, g.signature_id));
    const box = h('input', {type: 'checkbox', tabindex: '-1', 'aria-label': `Select group ${name}`, checked: this.selected.has(g.id),
      on: {click: (ev) => ev.stopPropagation(), change: () => this.toggle(g.id, box.checked)}});
    const open = this.rows.get(g.id)?.members != null;
    const expand = h('button', {type: 'button', class: 'expand', tabindex: '-1', 'aria-expanded': String(open),
      'aria-label': `${open ? 'Hide' : 'Show'} the ${alertsWord(g.count)} of this group`,
      on: {click: (ev) => { ev.stopPropagation(); this.expand(g.id); }}}, open ? '▾' : '▸');
    const tr = h('tr', {class: ['group-row', isFresh ? 'fresh' : '', `sev-row-${g.severity_name}`], tabindex: '-1',
      dataset: {id: g.id, state: g.state, count: String(g.count)},
      'aria-label': `${g.severity_name} ${name} from ${g.src_ip} to ${g.dest_ip}, ${alertsWord(g.count)}, ${g.state}`,
      on: {
        click: (ev) => { if (!ev.target.closest('a, input, button')) this.expand(g.id); },
        focus: () => this.rovingTo(tr),
      }},
    h('td', {class: 'c-sel'}, box),
    h('td', {class: 'c-expand'}, expand),
    h('td', {class: 'c-sev'}, sevBadge(g.severity_name)),
    h('td', {class: 'c-time', title: String(g.last_seen || '')}, fmtTime(g.last_seen)),
    h('td', {class: 'c-rule'}, h('a', {href: `#/alert-groups/${encodeURIComponent(g.id)}`, tabindex: '-1', class: 'sig'}, name),
      h('span', {class: 'sub'}, ` ${g.category ? `${g.category} · ` : ''}rule ${g.signature_id} · ${g.protocol || ''}`)),
    h('td', {class: 'c-count'}, h('span', {class: 'count', title: alertsWord(g.count)}, `${num(g.count)}×`)),
    h('td', {class: 'c-first', title: String(g.first_seen || '')}, fmtTime(g.first_seen)),
    h('td', {class: 'c-hosts'}, h('span', {class: 'ip'}, String(g.src_ip)), ' → ', h('span', {class: 'ip'}, String(g.dest_ip))),
    h('td', {class: 'c-state'}, stateBadge(g.state)));
    return {tr, box};
  }

  /** Appends the groups of a page (older ones below). */
  append(groups) {
    for (const g of groups) {
      if (this.rows.has(g.id)) continue;
      const {tr, box} = this.makeRow(g, false);
      this.rows.set(g.id, {group: g, tr, box, members: null, seq: 0});
      this.tbody.appendChild(tr);
    }
    const first = this.tbody.firstElementChild;
    if (first && !this.focused()) first.tabIndex = 0;
  }

  /** Shows group `g` as it is now: its row redrawn in place, or on top with `top`. */
  upsert(g, top) {
    const row = this.rows.get(g.id);
    const {tr, box} = this.makeRow(g, top);
    const hadFocus = row && document.activeElement === row.tr;
    if (row) {
      row.tr.replaceWith(tr);
      Object.assign(row, {group: g, tr, box});
    } else {
      this.rows.set(g.id, {group: g, tr, box, members: null, seq: 0});
    }
    if (top) {
      const moved = [tr, ...((this.rows.get(g.id).members) || [])];
      const anchor = this.tbody.firstElementChild;
      for (const x of moved) this.tbody.insertBefore(x, anchor);
    } else if (!row) {
      this.tbody.appendChild(tr);
    }
    if (hadFocus) this.focusRow(tr);
    else if (!this.focused()) tr.tabIndex = 0;
  }

  /** Shows or hides the alerts of group `id` under its row (the newest 50, then more on demand). */
  async expand(id, show) {
    const row = this.rows.get(id);
    if (!row) return;
    const open = row.members != null;
    if (show === undefined) show = !open;
    if (show === open) return;
    const button = row.tr.querySelector('button.expand');
    if (!show) {
      for (const m of row.members) m.remove();
      row.members = null;
      row.seq += 1;
      button.setAttribute('aria-expanded', 'false');
      button.setAttribute('aria-label', `Show the ${alertsWord(row.group.count)} of this group`);
      button.textContent = '▸';
      return;
    }
    row.members = [];
    const seq = ++row.seq;
    button.setAttribute('aria-expanded', 'true');
    button.setAttribute('aria-label', `Hide the ${alertsWord(row.group.count)} of this group`);
    button.textContent = '▾';
    const loading = h('tr', {class: 'member-more'}, h('td', {colspan: '9'}, 'Loading…'));
    row.members.push(loading);
    row.tr.after(loading);
    await this.loadMembers(row, seq, null, loading);
  }

  /** Puts the page of group alerts after `cursor` in place of `slot` (a loading or "more" row). */
  async loadMembers(row, seq, cursor, slot) {
    const q = new URLSearchParams({limit: '50'});
    if (cursor) q.set('cursor', cursor);
    try {
      const d = await api(`/alert-groups/${encodeURIComponent(row.group.id)}/alerts?${q}`);
      if (seq !== row.seq || !row.members) return;
      const trs = (d.alerts || []).map((a) => memberRow(a, this.rules, row.group.id, this.on.open));
      if (d.next_cursor) {
        const more = h('tr', {class: 'member-more'}, h('td', {colspan: '9'},
          h('button', {type: 'button', class: 'link-button', on: {click: () => this.loadMembers(row, seq, d.next_cursor, more)}}, 'Show older alerts of this group')));
        trs.push(more);
      }
      slot.replaceWith(...trs);
      row.members.splice(row.members.indexOf(slot), 1, ...trs);
    } catch (e) {
      if (seq === row.seq) replace(slot.firstElementChild, errorBox(e));
    }
  }


  /** Group `g` after a state change of all its alerts (shown alerts follow). */
  changed(g, st) {
    const row = this.rows.get(g.id);
    if (!row) return;
    this.upsert(g, false);
    for (const m of row.members || []) {
      if (!m.classList.contains('member-row')) continue;
      m.dataset.state = st;
      replace(m.querySelector('.c-state'), stateBadge(st));
    }
  }

  /** Keys on a focused row: move, open or close a group, select, change state, open an alert. */
  rowKey(ev) {
    const tr = ev.target.closest('tr.group-row, tr.member-row');
    if (!tr || ev.target !== tr || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const k = ev.key;
    const isGroup = tr.classList.contains('group-row');
    const gid = isGroup ? tr.dataset.id : tr.dataset.group;
    const rowsAround = (dir) => {
      let x = dir > 0 ? tr.nextElementSibling : tr.previousElementSibling;
      while (x && !x.matches('tr.group-row, tr.member-row')) x = dir > 0 ? x.nextElementSibling : x.previousElementSibling;
      return x;
    };
    if (k === 'ArrowDown' || k === 'j') { ev.preventDefault(); this.focusRow(rowsAround(1)); }
    else if (k === 'ArrowUp' || k === 'k') { ev.preventDefault(); this.focusRow(rowsAround(-1) || tr); }
    else if (k === 'Home') { ev.preventDefault(); this.focusRow(this.tbody.querySelector('tr.group-row')); }
    else if (k === 'End') { ev.preventDefault(); this.focusRow([...this.tbody.querySelectorAll('tr.group-row, tr.member-row')].pop()); }
    else if (k === 'Enter' && !isGroup) { ev.preventDefault(); this.on.open(tr.dataset.id); }
    else if (k === 'Enter' || (k === 'ArrowRight' && isGroup)) { ev.preventDefault(); this.expand(gid, k === 'Enter' ? undefined : true); }
    else if (k === 'ArrowLeft') {
      ev.preventDefault();
      const row = this.rows.get(gid);
      if (row) {
        this.expand(gid, false);
        this.focusRow(row.tr);
      }
    } else if ((k === ' ' || k === 'x') && isGroup) { ev.preventDefault(); this.toggle(gid, !this.selected.has(gid)); }
    else if (KEY_STATE.has(k) && isGroup) {
      ev.preventDefault();
      this.on.bulk(KEY_STATE.get(k), this.selected.size ? [...this.selected] : [gid]);
    } else return;
    ev.stopPropagation();
  }
}

/** The list view: its parts, what it loads and the live stream. */
class AlertList {
  constructor(root, f, rules, protocols, ctx) {
    this.f = f;
    this.rules = rules;
    this.ctx = ctx;
    this.next = null; // cursor of the next (older) page
    this.fresh = 0; // alerts that came live
    this.loadSeq = 0;
    this.stopStream = null;
    this.refreshCounts = debounce(() => this.loadCounts(), 800);
    const apply = () => this.apply();
    this.sev = severityToggles(f, apply);
    this.form = filterForm(f, rules, protocols, apply);
    this.grouped = f.grouped !== false;
    this.bar = selectionToolbar((st) => this.bulk(st), this.grouped ? 'groups' : 'alerts');
    const on = {
      open: (id) => this.open(id),
      bulk: (st, ids) => this.bulk(st, ids),
      selection: () => this.showSelection(),
    };
    this.table = this.grouped ? new GroupTable(rules, on) : new AlertTable(rules, on);
    this.liveGroups = new Map(); // group id → pending refresh
    this.updated = 0; // live changes of groups shown
    const groupToggle = h('button', {type: 'button', id: 'group-toggle', class: 'toggle', 'aria-pressed': String(this.grouped),
      title: 'Show alerts of the same rule, source and destination within an hour as one row',
      on: {click: () => {
        f.grouped = !this.grouped;
        location.hash = filtersRoute(f);
      }}}, 'Group duplicates');
    this.stateCounts = h('p', {class: 'state-counts muted'});
    this.status = h('p', {class: 'list-status', role: 'status'}, 'Loading…');
    this.more = h('button', {type: 'button', class: 'more', hidden: true, on: {click: () => this.load(true)}}, 'Load older alerts');
    this.freshNote = h('span', {class: 'fresh-note', 'aria-live': 'polite'});
    // On a narrow screen the filters fold away unless some are set.
    const filtersOpen = !window.matchMedia('(max-width: 760px)').matches || [...apiQuery(f, {withTime: false}).keys()].length > 0 || !!f.range;
    replace(root,
      h('div', {class: 'view-head'}, heading('Alerts'), groupToggle, this.freshNote),
      this.sev.node, this.stateCounts,
      h('details', {class: 'filter-box', open: filtersOpen}, h('summary', 'Filters'), this.form.node),
      this.bar.node,
      h('p', {id: 'list-help', class: 'hint'}, this.grouped
        ? 'Rows: ↑/↓ or j/k to move, Enter or → to show a group\'s alerts (← hides them), Space or x to select, a/c/n to acknowledge/close/reopen every alert of a group. Press ? for all shortcuts.'
        : 'Rows: ↑/↓ or j/k to move, Enter to open, Space or x to select, a/c/n to acknowledge/close/reopen. Press ? for all shortcuts.'),
      h('div', {class: 'table-wrap'}, this.table.node), this.status, this.more);
    ctx.cleanup.push(() => this.stopStream && this.stopStream());
    ctx.keys = (ev) => this.keys(ev);
  }

  async start() {
    await Promise.all([this.load(false), this.loadCounts()]);
    this.restartStream();
  }

  showSelection() {
    this.bar.update(this.table.selected.size);
    this.table.showSelection();
  }

  showCount() {
    const n = this.table.rows.size;
    const word = this.grouped ? 'group' : 'alert';
    this.status.textContent = n ? `${n} ${word}${n === 1 ? '' : 's'} shown${this.next ? ' (more below)' : ''}.` : 'No alerts match these filters.';
    this.status.classList.toggle('empty', !n);
  }

  open(id) {
    state.lastList = location.hash || '#/alerts';
    state.lastOpened = id;
    location.hash = `#/alerts/${encodeURIComponent(id)}`;
  }

  /** The filters changed: the route follows, the list, counts and stream reload. */
  apply() {
    const target = filtersRoute(this.f);
    if (target !== location.hash) history.replaceState(null, '', target);
    state.lastList = target;
    this.load(false);
    this.loadCounts();
    this.restartStream();
  }

  /** Loads the first page (or, with `append`, the next older one). */
  async load(append) {
    const seq = ++this.loadSeq;
    const q = apiQuery(this.f);
    q.set('limit', '100');
    if (append && this.next) q.set('cursor', this.next);
    this.status.textContent = 'Loading…';
    try {
      const d = await api(`${this.grouped ? '/alert-groups' : '/alerts'}?${q}`, {signal: this.ctx.signal});
      if (seq !== this.loadSeq) return;
      if (!append) {
        this.table.clear();
        this.fresh = 0;
        this.freshNote.textContent = '';
      }
      const alerts = (this.grouped ? d.groups : d.alerts) || [];
      this.table.append(alerts);
      this.form.addProtocols(alerts.map((a) => a.protocol));
      this.next = d.next_cursor || null;
      this.more.hidden = !this.next;
      this.showCount();
      const back = state.lastOpened && this.table.rows.get(state.lastOpened);
      if (!append && back) {
        this.table.focusRow(back.tr);
        state.lastOpened = null;
      }
      this.showSelection();
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.status.textContent = '';
      this.table.tbody.replaceChildren();
      this.status.appendChild(errorBox(e));
    }
  }

  /** Counts per severity (in the time range), per state (all stored), and rules that fired. */
  async loadCounts() {
    const b = timeBounds(this.f);
    const q = new URLSearchParams({by: 'severity'});
    if (b.from !== undefined) q.set('from', String(b.from));
    if (b.to !== undefined) q.set('to', String(b.to));
    const signal = this.ctx.signal;
    try {
      const [sev, st, rc] = await Promise.all([
        api(`/counts?${q}`, {signal}),
        api('/counts?by=state', {signal}),
        api('/counts?by=rule', {signal}),
      ]);
      this.sev.show(sev.counts);
      replace(this.stateCounts, 'All stored: ', (st.counts || []).map((c, i) => [i ? ' · ' : '', h('span', {class: `state-count state-count-${c.key}`}, `${num(c.count)} ${c.key}`)]));
      const extra = (rc.counts || []).map((c) => c.key).filter((k) => !this.rules.has(Number(k)));
      if (extra.length) this.form.fillRules(extra);
    } catch (e) {
      if (e.name !== 'AbortError') console.warn(e);
    }
  }

  /** Sets alerts (or groups) `ids` (the selected ones by default) to state `st`. */
  async bulk(st, ids = [...this.table.selected]) {
    if (!ids.length) return;
    if (this.grouped) {
      try {
        const answers = await Promise.all(ids.map((id) => changeGroupState(id, st)));
        let n = 0;
        for (const r of answers) {
          this.table.changed(r.group, st);
          n += r.updated;
        }
        toast(`${STATE_VERB[st]} ${ids.length} group${ids.length === 1 ? '' : 's'} (${alertsWord(n)}).`);
        this.table.unselectAll();
        this.showSelection();
        this.loadCounts();
      } catch (e) {
        toast(`Could not change the state: ${e.message}`, 'error');
      }
      return;
    }
    try {
      const r = await changeState(ids, st);
      this.table.setState(ids, st, r.alerts);
      toast(`${STATE_VERB[st]} ${r.updated} alert${r.updated === 1 ? '' : 's'}.`);
      this.table.unselectAll();
      this.showSelection();
      this.loadCounts();
    } catch (e) {
      toast(`Could not change the state: ${e.message}`, 'error');
    }
  }

  /** (Re)opens the live stream for the filters; a closed time range gets none. */
  restartStream() {
    if (this.stopStream) this.stopStream();
    const q = apiQuery(this.f, {withTime: false});
    if (timeBounds(this.f).to !== undefined) {
      this.stopStream = null; // a closed time range gets no new alerts
      liveStatus('off');
      return;
    }
    this.stopStream = openStream(q.toString(), {onAlert: (a) => this.live(a)});
  }

  /** An alert from the stream. */
  live(a) {
    if (this.grouped) {
      this.liveGroup(a);
      return;
    }
    if (!this.table.prepend(a)) return;
    this.fresh += 1;
    this.freshNote.textContent = `${this.fresh} new since the page was loaded`;
    this.showCount();
    this.form.addProtocols([a.protocol]);
    this.showSelection();
    this.refreshCounts();
  }

  /** An alert from the stream, grouped: its group (read again) goes on top. */
  liveGroup(a) {
    const gid = a.group_id;
    if (!gid || this.liveGroups.has(gid)) return;
    // Alerts of one group arrive in bursts: its row is read once per burst.
    this.liveGroups.set(gid, setTimeout(async () => {
      try {
        const g = await api(`/alert-groups/${encodeURIComponent(gid)}`, {signal: this.ctx.signal});
        const known = this.table.rows.get(gid);
        const open = known && known.members != null;
        this.table.upsert(g, true);
        if (open) {
          // Its alerts shown are read again, the new one on top.
          await this.table.expand(gid, false);
          await this.table.expand(gid, true);
        }
        if (known) this.updated += 1; else this.fresh += 1;
        this.freshNote.textContent = [
          this.fresh ? `${this.fresh} new group${this.fresh === 1 ? '' : 's'}` : '',
          this.updated ? `${this.updated} update${this.updated === 1 ? '' : 's'} of groups shown` : '',
        ].filter(Boolean).join(', ') + ' since the page was loaded';
        this.showCount();
        this.form.addProtocols([g.protocol]);
        this.showSelection();
        this.refreshCounts();
      } catch (e) {
        if (e.name !== 'AbortError') console.warn(e);
      } finally {
        this.liveGroups.delete(gid);
      }
    }, 300));
  }

  /** Page keys while no row has the focus. */
  keys(ev) {
    if (KEY_STATE.has(ev.key)) {
      if (!this.table.selected.size) return false;
      this.bulk(KEY_STATE.get(ev.key));
      return true;
    }
    if (ev.key === 'j' || ev.key === 'ArrowDown') {
      const t = this.table;
      t.focusRow(t.focused() || t.tbody.firstElementChild);
      return true;
    }
    return false;
  }
}

/** #/alerts?…: the list of alerts, filtered by the route's query. */
export async function viewAlerts(root, params, ctx) {
  setTitle('Alerts');
  state.lastList = location.hash || '#/alerts';
  const f = filtersFrom(params);
  let rules = new Map();
  try {
    rules = await rulesMap();
  } catch (e) {
    if (e.status === 401) return;
  }
  const protocols = await protocolsOrNone();
  await new AlertList(root, f, rules, protocols, ctx).start();
}

/** #/alert-groups/ID: one group (count, first and last seen, state) and all its alerts. */
export async function viewGroup(root, id, ctx) {
  setTitle('Alert group');
  replace(root, h('p', {class: 'list-status'}, 'Loading…'));
  let g;
  try {
    g = await api(`/alert-groups/${encodeURIComponent(id)}`, {signal: ctx.signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    replace(root, heading('Alert group'), errorBox(e), h('p', h('a', {href: state.lastList || '#/alerts'}, '← Back to alerts')));
    return;
  }
  let rules = new Map();
  try {
    rules = await rulesMap();
  } catch (e) {
    if (e.status === 401) return;
  }
  const name = String(g.signature || ruleName(rules, g.signature_id));
  setTitle(name);
  const badge = h('span', {id: 'group-state'});
  const facts = h('table', {class: 'kv', id: 'group-facts'});
  const info = h('p', {class: 'state-info muted'});
  const show = () => {
    replace(badge, stateBadge(g.state));
    replace(facts, h('tbody', [
      ['Alerts', h('span', {id: 'group-count'}, num(g.count)), ` (${num(g.states.new)} new · ${num(g.states.acknowledged)} acknowledged · ${num(g.states.closed)} closed)`],
      ['First seen', fmtTime(g.first_seen)],
      ['Last seen', fmtTime(g.last_seen)],
      ['Source → destination', h('span', {class: 'ip'}, String(g.src_ip)), ' → ', h('span', {class: 'ip'}, String(g.dest_ip))],
      ['Rule', h('a', {href: `#/rules/${encodeURIComponent(g.signature_id)}`}, String(g.signature_id)), ` · ${g.protocol || ''} · sensor ${g.sensor || '?'}`],
    ].map(([k, ...v]) => h('tr', h('th', {scope: 'row'}, k), h('td', ...v)))));
    info.textContent = g.state_at ? `last change: ${g.state_by || '?'} at ${fmtTime(g.state_at)}${g.state_note ? ` — ${g.state_note}` : ''}` : '';
    ackB.disabled = g.state === 'acknowledged';
    closeB.disabled = g.state === 'closed';
    reopenB.disabled = g.state === 'new';
  };
  const members = new AlertTable(rules, {
    open: (aid) => {
      state.lastList = location.hash;
      location.hash = `#/alerts/${encodeURIComponent(aid)}`;
    },
    bulk: async (st, ids) => {
      try {
        const r = await changeState(ids, st);
        members.setState(ids, st, r.alerts);
        toast(`${STATE_VERB[st]} ${alertsWord(r.updated)}.`);
        g = await api(`/alert-groups/${encodeURIComponent(id)}`, {signal: ctx.signal});
        show();
      } catch (e) {
        if (e.name !== 'AbortError') toast(`Could not change the state: ${e.message}`, 'error');
      }
    },
    selection: () => members.showSelection(),
  });
  const status = h('p', {class: 'list-status', role: 'status'});
  let next = null;
  const more = h('button', {type: 'button', class: 'more', hidden: true, on: {click: () => load()}}, 'Load older alerts');
  const load = async () => {
    const q = new URLSearchParams({limit: '100'});
    if (next) q.set('cursor', next);
    try {
      const d = await api(`/alert-groups/${encodeURIComponent(id)}/alerts?${q}`, {signal: ctx.signal});
      members.append(d.alerts || []);
      next = d.next_cursor || null;
      more.hidden = !next;
      status.textContent = `${alertsWord(members.rows.size)} of ${num(g.count)} shown.`;
    } catch (e) {
      if (e.name !== 'AbortError') replace(status, errorBox(e));
    }
  };
  const act = async (st) => {
    try {
      const r = await changeGroupState(id, st);
      g = r.group;
      show();
      members.setState([...members.rows.keys()], st);
      toast(`${STATE_VERB[st]} the group (${alertsWord(r.updated)}).`);
    } catch (e) {
      toast(`Could not change the state: ${e.message}`, 'error');
    }
  };
  const ackB = h('button', {type: 'button', class: 'action action-acknowledged', 'aria-keyshortcuts': 'a', on: {click: () => act('acknowledged')}}, 'Acknowledge all');
  const closeB = h('button', {type: 'button', class: 'action action-closed', 'aria-keyshortcuts': 'c', on: {click: () => act('closed')}}, 'Close all');
  const reopenB = h('button', {type: 'button', class: 'action action-new', 'aria-keyshortcuts': 'n', on: {click: () => act('new')}}, 'Reopen all');
  show();
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: state.lastList || '#/alerts'}, '← Alerts'), h('span', {class: 'muted'}, ' (Esc)')),
    h('div', {class: 'alert-head'}, sevBadge(g.severity_name), heading(name), badge),
    h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Group state'}, ackB, closeB, reopenB, info),
    h('section', {class: 'card', 'aria-labelledby': 'h-group'}, h('h2', {id: 'h-group'}, 'Alert group'), facts,
      h('p', {class: 'muted'}, 'Alerts of one rule from one source to one destination, seen by one sensor, each within an hour of the group\'s others. A closed group takes no more: the next such alert starts a new group.')),
    h('section', {class: 'card', 'aria-labelledby': 'h-members'}, h('h2', {id: 'h-members'}, 'Its alerts, newest first'),
      h('div', {class: 'table-wrap'}, members.node), status, more));
  ctx.keys = (ev) => {
    if (KEY_STATE.has(ev.key)) {
      if (members.selected.size) members.on.bulk(KEY_STATE.get(ev.key), [...members.selected]);
      else act(KEY_STATE.get(ev.key));
      return true;
    }
    if (ev.key === 'Escape') { location.hash = state.lastList || '#/alerts'; return true; }
    if (ev.key === 'j' || ev.key === 'ArrowDown') { members.focusRow(members.focused() || members.tbody.firstElementChild); return true; }
    return false;
  };
  await load();
}
