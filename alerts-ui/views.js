// Generic renderers: a decoded protocol object as a readable tree, charts and
// the communication map, all drawn as DOM/SVG nodes with text content only.

import {h, s, fmtTime, num, parseTime} from './dom.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isScalar = (v) => v === null || typeof v !== 'object';

function scalar(v, key) {
  if (v === null || v === undefined) return h('span', {class: 'v-null'}, '—');
  if (typeof v === 'boolean') return h('span', {class: 'v-bool'}, v ? 'true' : 'false');
  if (typeof v === 'number') {
    // Codes and addresses: show hex beside decimal where it helps.
    const hex = Number.isInteger(v) && v > 9 && /(code|function|address|addr|start|ref|id|class|group|subfunction)$/.test(key || '')
      ? h('span', {class: 'v-hex'}, ` (0x${v.toString(16)})`) : null;
    return h('span', {class: 'v-num'}, String(v), hex);
  }
  return h('span', {class: 'v-str'}, String(v));
}

// Arrays of plain objects with the same scalar keys become a table.
function uniformTable(arr) {
  if (arr.length < 2 || !arr.every(isObj)) return null;
  const keys = [];
  for (const o of arr) {
    for (const [k, v] of Object.entries(o)) {
      if (!isScalar(v)) return null;
      if (!keys.includes(k)) keys.push(k);
    }
  }
  if (keys.length > 8) return null;
  return h('table', {class: 'tree-table'},
    h('thead', h('tr', h('th', '#'), keys.map((k) => h('th', {scope: 'col'}, k)))),
    h('tbody', arr.map((o, i) => h('tr', h('td', {class: 'idx'}, String(i)), keys.map((k) => h('td', scalar(o[k], k)))))));
}

/**
 * Renders any JSON value as a nested key/value tree: scalars in a two-column
 * table, objects and arrays as nested sections (open up to `openDepth`).
 */
export function tree(value, depth = 0, openDepth = 3) {
  if (isScalar(value)) return scalar(value);
  if (Array.isArray(value)) {
    if (!value.length) return h('span', {class: 'v-null'}, '[ ] (empty)');
    if (value.every(isScalar)) {
      const shown = value.slice(0, 64);
      return h('span', {class: 'v-list'}, shown.map((v, i) => [i ? ', ' : '', scalar(v)]),
        value.length > shown.length ? ` … (${value.length} in all)` : '');
    }
    const t = uniformTable(value);
    if (t) return t;
    return h('ol', {class: 'tree-list', start: '0'}, value.map((v) => h('li', tree(v, depth + 1, openDepth))));
  }
  const rows = Object.entries(value).map(([k, v]) => {
    if (isScalar(v) || (Array.isArray(v) && v.every(isScalar))) {
      return h('tr', h('th', {scope: 'row'}, k), h('td', isScalar(v) ? scalar(v, k) : tree(v, depth + 1, openDepth)));
    }
    const count = Array.isArray(v) ? `[${v.length}]` : `{${Object.keys(v).length}}`;
    return h('tr', h('td', {colspan: '2', class: 'nested'},
      h('details', {open: depth < openDepth},
        h('summary', h('span', {class: 'k'}, k), ' ', h('span', {class: 'count'}, count)),
        tree(v, depth + 1, openDepth))));
  });
  return h('table', {class: 'tree'}, h('tbody', rows));
}

/**
 * A decoded transaction: when the protocol object has `request` and
 * `response`, they are shown side by side under the fields they share.
 */
export function transaction(proto, obj) {
  if (!isObj(obj)) return h('div', {class: 'tx'}, tree(obj));
  const {request, response, ...rest} = obj;
  const parts = [];
  if (Object.keys(rest).length) parts.push(h('div', {class: 'tx-common'}, tree(rest)));
  if (request !== undefined || response !== undefined) {
    parts.push(h('div', {class: 'tx-pair'},
      h('section', {class: 'tx-side', 'aria-label': `${proto} request`},
        h('h4', 'Request'), request === undefined ? h('p', {class: 'muted'}, 'no request seen') : tree(request)),
      h('section', {class: 'tx-side', 'aria-label': `${proto} response`},
        h('h4', 'Response'), response === undefined || response === null
          ? h('p', {class: 'muted'}, 'no response seen') : tree(response))));
  }
  return h('div', {class: 'tx', dataset: {proto}}, parts);
}

/** Horizontal bars: rows of {label (node or text), count, href?, color? (CSS)}. */
export function bars(rows, {empty = 'Nothing yet.', label = 'bar chart'} = {}) {
  if (!rows.length) return h('p', {class: 'muted'}, empty);
  const max = Math.max(...rows.map((r) => r.count), 1);
  return h('ul', {class: 'bars', 'aria-label': label}, rows.map((r) => h('li',
    h('span', {class: 'bar-label'}, r.href ? h('a', {href: r.href}, r.label) : r.label),
    h('span', {class: 'bar-track'}, h('span', {class: 'bar-fill', style: {width: `${(100 * r.count) / max}%`, ...(r.color ? {'background-color': r.color} : {})}})),
    h('span', {class: 'bar-count'}, num(r.count)))));
}

/**
 * Alerts over time as an SVG column chart. `buckets` are {start, count}
 * (only non-empty ones); gaps are filled with zeros.
 */
export function timeChart(buckets, bucketSec) {
  const W = 760;
  const H = 200;
  const pad = {l: 44, r: 10, t: 12, b: 34};
  if (!buckets.length) return h('p', {class: 'muted'}, 'No alerts in this period.');
  const step = bucketSec * 1000;
  const pts = buckets.map((b) => ({t: parseTime(b.start), c: b.count})).filter((p) => !Number.isNaN(p.t));
  pts.sort((a, b) => a.t - b.t);
  // At least 24 buckets, so that a burst inside one minute is a bar, not a wall.
  const MIN = 24;
  let first = pts[0].t;
  const last = pts[pts.length - 1].t;
  let n = Math.min(Math.round((last - first) / step) + 1, 2000);
  if (n < MIN) {
    const before = Math.floor((MIN - n) / 2);
    first -= before * step;
    n = MIN;
  }
  const series = new Array(n).fill(0);
  for (const p of pts) {
    const i = Math.round((p.t - first) / step);
    if (i >= 0 && i < n) series[i] += p.c;
  }
  const top = Math.max(...series, 1);
  // A round axis: 1, 2 or 5 × 10^k per tick.
  const raw = top / 4;
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const tick = [1, 2, 5, 10].map((m) => m * mag).find((t) => t >= raw) || mag * 10;
  const ticks = Math.max(1, Math.ceil(top / tick));
  const max = ticks * tick;
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const bw = iw / n;
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': `Alerts over time: ${pts.reduce((a, p) => a + p.c, 0)} alerts in ${n} buckets of ${bucketSec / 60} min`});
  for (let i = 0; i <= ticks; i++) {
    const v = i * tick;
    const y = pad.t + ih - (ih * v) / max;
    svg.appendChild(s('line', {x1: pad.l, x2: W - pad.r, y1: y, y2: y, class: 'grid'}));
    svg.appendChild(s('text', {x: pad.l - 6, y: y + 4, class: 'axis', 'text-anchor': 'end'}, String(v)));
  }
  series.forEach((c, i) => {
    if (!c) return;
    const bh = (ih * c) / max;
    const x = pad.l + i * bw;
    svg.appendChild(s('rect', {x: x + Math.min(1, bw * 0.1), y: pad.t + ih - bh, width: Math.max(bw - Math.min(2, bw * 0.2), 1), height: bh, class: 'col'},
      s('title', {}, `${fmtTime(new Date(first + i * step).toISOString())}: ${c} alert${c === 1 ? '' : 's'}`)));
  });
  const labels = Math.min(n, 6);
  for (let j = 0; j < labels; j++) {
    const i = labels === 1 ? 0 : Math.round((j * (n - 1)) / (labels - 1));
    const d = new Date(first + i * step).toISOString();
    const txt = bucketSec >= 86400 ? fmtTime(d).slice(0, 10) : (n * bucketSec > 86400 ? fmtTime(d).slice(5, 16) : fmtTime(d, false).slice(0, 5));
    svg.appendChild(s('text', {x: pad.l + (i + 0.5) * bw, y: H - pad.b + 16, class: 'axis', 'text-anchor': 'middle'}, txt));
  }
  svg.appendChild(s('line', {x1: pad.l, x2: W - pad.r, y1: pad.t + ih, y2: pad.t + ih, class: 'base'}));
  return svg;
}

const clip = (t, n) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

/**
 * Who talks to whom: clients on the left, servers on the right, one line
 * per (client, server, protocol) labelled with the protocol and port, in the
 * protocol's colour (`colourOf(name)`, null for the default).
 * `onOpen(ip)` is called when a node is activated.
 */
export function commMap(assets, onOpen, colourOf = () => null) {
  const byIp = new Map(assets.map((a) => [a.ip, a]));
  const edges = new Map();
  for (const a of assets) {
    for (const p of a.peers || []) {
      const aServes = (a.roles || []).some((r) => r.includes('server'));
      // A peer entry names the server port; the side listening on it is the server.
      let client = a.ip;
      let server = p.ip;
      const peer = byIp.get(p.ip);
      const peerServes = peer && (peer.roles || []).some((r) => r.includes('server'));
      if (aServes && !peerServes) [client, server] = [p.ip, a.ip];
      const key = `${client}|${server}|${p.protocol}|${p.port}`;
      if (!edges.has(key)) edges.set(key, {client, server, protocol: p.protocol || '?', port: p.port});
    }
  }
  const clients = new Set();
  const servers = new Set();
  for (const e of edges.values()) {
    clients.add(e.client);
    servers.add(e.server);
  }
  for (const a of assets) {
    if (!clients.has(a.ip) && !servers.has(a.ip)) {
      ((a.roles || []).some((r) => r.includes('server')) ? servers : clients).add(a.ip);
    }
  }
  for (const ip of servers) clients.delete(ip);
  const left = [...clients].sort();
  const right = [...servers].sort();
  const rowH = 64;
  const W = 760;
  const H = Math.max(left.length, right.length, 1) * rowH + 30;
  const nodeW = 220;
  const pos = new Map();
  left.forEach((ip, i) => pos.set(ip, {x: 20, y: 20 + i * rowH + (H - 30 - left.length * rowH) / 2}));
  right.forEach((ip, i) => pos.set(ip, {x: W - 20 - nodeW, y: 20 + i * rowH + (H - 30 - right.length * rowH) / 2}));
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'map', role: 'group',
    'aria-label': `Communication map: ${left.length} clients, ${right.length} servers, ${edges.size} connections`});
  const list = [...edges.values()];
  const labels = new Map(); // one label per server port, beside the server
  list.forEach((e) => {
    const a = pos.get(e.client);
    const b = pos.get(e.server);
    if (!a || !b) return;
    const x1 = a.x + nodeW;
    const y1 = a.y + 22;
    const x2 = b.x;
    const y2 = b.y + 22;
    const mx = (x1 + x2) / 2;
    const colour = colourOf(e.protocol);
    svg.appendChild(s('path', {d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: 'edge', style: colour ? {stroke: colour} : null},
      s('title', {}, `${e.client} → ${e.server} ${e.protocol}/${e.port}`)));
    const lk = `${e.server}|${e.protocol}|${e.port}`;
    if (!labels.has(lk)) {
      const k = [...labels.keys()].filter((x) => x.startsWith(`${e.server}|`)).length;
      labels.set(lk, true);
      svg.appendChild(s('text', {x: x2 - 8, y: y2 - 7 - k * 14, class: 'edge-label', style: colour ? {fill: colour} : null, 'text-anchor': 'end'}, `${e.protocol} ${e.port || ''}`));
    }
  });
  for (const [ip, p] of pos) {
    const a = byIp.get(ip);
    const id = a && a.identity;
    const sub = id ? [id.vendor, id.model || id.product || id.module_name || id.order_number].filter(Boolean).join(' · ') : '';
    const role = a ? (a.roles || []).join(', ') : 'not in inventory';
    const g = s('g', {class: ['node', a ? '' : 'node-unknown'], tabindex: '0', role: 'button',
      'aria-label': `${ip} ${role} ${sub}`,
      on: {
        click: () => onOpen && onOpen(ip),
        keydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onOpen && onOpen(ip); } },
      }},
    s('rect', {x: p.x, y: p.y, width: nodeW, height: 46, rx: 6}),
    s('text', {x: p.x + 10, y: p.y + 19, class: 'node-ip'}, ip),
    s('text', {x: p.x + 10, y: p.y + 36, class: 'node-sub'}, clip(sub || role, 32)));
    svg.appendChild(g);
  }
  return svg;
}
