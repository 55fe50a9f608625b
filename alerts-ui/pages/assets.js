// The asset inventory, #/assets?q=…&protocol=…, with the communication map,
// and one asset, #/assets/IP: identity, network, peers, identity changes,
// recent alerts.

import {h, replace, route, fmtTime, ago, num, sevBadge, stateBadge} from '../dom.js';
import {api, protocolsOrNone} from '../api.js';
import {errorBox, setTitle, heading, focusTitle, debounce, rowKeys} from '../page.js';
import {protocolColours} from '../labels.js';
import {tree, commMap} from '../views.js';

/** Sorts dotted IPv4 addresses by their numbers (others as text). */
function ipKey(ip) {
  const p = String(ip).split('.');
  return p.length === 4 ? p.map((x) => x.padStart(3, '0')).join('.') : String(ip);
}

/** What each station role's address is called. */
const STATION_ROLES = {
  unit: 'unit id',
  outstation: 'outstation address',
  master: 'master address',
  controlled: 'controlled station, common address',
  controlling: 'controlling station, originator address',
};

/** An asset's protocol-level addresses, one phrase each ("dnp3 outstation address 1"). */
function stationsText(stations) {
  return (stations || []).map((s) => `${s.protocol} ${STATION_ROLES[s.role] || s.role} ${s.address}`).join('; ');
}

const openAsset = (ip) => { location.hash = `#/assets/${encodeURIComponent(ip)}`; };

/** The inventory table; `alertsBy` maps an IP to its alert count. */
function inventoryTable(list, alertsBy) {
  return h('table', {class: 'assets'},
    h('thead', h('tr', ['Address', 'Role', 'Protocols', 'Vendor', 'Product / model', 'Firmware', 'First seen', 'Last seen', 'Peers', 'Alerts'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', list.map((x) => {
      const id = x.identity || {};
      const model = [...new Set([id.product, id.model, id.module_name, id.order_number].filter((v) => v !== undefined && v !== null && v !== '').map(String))];
      return h('tr', {class: 'asset-row', tabindex: '0', dataset: {ip: x.ip},
        on: {
          click: (ev) => { if (!ev.target.closest('a')) openAsset(x.ip); },
          keydown: (ev) => rowKeys(ev, () => openAsset(x.ip)),
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
    })));
}

/** #/assets. */
export async function viewAssets(root, params, ctx) {
  setTitle('Assets');
  const q = params.get('q') || '';
  const proto = params.get('protocol') || '';
  const qIn = h('input', {type: 'search', id: 'asset-q', value: q, placeholder: 'IP, vendor, model…', autocomplete: 'off', spellcheck: 'false'});
  const protocols = await protocolsOrNone();
  const colourOf = protocolColours(protocols);
  const names = protocols.map((p) => p.name);
  if (proto && !names.includes(proto)) names.push(proto);
  const protoSel = h('select', {id: 'asset-proto'}, h('option', {value: '', selected: !proto}, 'Any protocol'),
    names.map((v) => h('option', {value: v, selected: v === proto}, v)));
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
      replace(tableBox, inventoryTable(list, alertsBy));
      replace(mapBox, commMap(list, openAsset, colourOf));
    } catch (e) {
      if (e.name !== 'AbortError') replace(tableBox, errorBox(e));
    }
  }
  await load();
}

/** #/assets/IP. */
export async function viewAsset(root, ip, ctx) {
  setTitle(ip);
  let a;
  try {
    a = await api(`/assets/${encodeURIComponent(ip)}`, {signal: ctx.signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
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
          [['Roles', (a.roles || []).join(', ')], ['Protocols', (a.protocols || []).join(', ')], ['Stations', stationsText(a.stations) || '—'], ['MAC', (a.macs || []).join(', ') || '—'],
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
