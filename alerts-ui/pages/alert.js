// One alert, #/alerts/ID: what happened in plain words, its group of
// duplicates, the rule and its ATT&CK techniques, both hosts with their asset
// identity, the decoded transaction, the raw EVE line and related alerts;
// state changes from the toolbar or the keys a, c, n; "do not alert on this
// rule" overrides.

import {h, replace, fmtTime, num, parseTime, sevBadge, stateBadge} from '../dom.js';
import {api, changeState, orNull} from '../api.js';
import {state} from '../state.js';
import {toast, errorBox, setTitle, heading, focusTitle} from '../page.js';
import {identityLine, STATE_VERB, KEY_STATE} from '../labels.js';
import {technique, techniqueUrl} from '../attack.js';
import {transaction} from '../views.js';
import {tuningCard} from './overrides.js';

/** One sentence: who sent what to whom, when, and what the device answered. */
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

/** A host: address and port, its asset entry and identity, MACs, VLAN. */
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

/**
 * The state badge, who set it when, and the three state buttons; `act(st)`
 * changes the state of `a` and shows it.
 */
function stateControls(a) {
  const badge = h('span', {id: 'alert-state'}, stateBadge(a.state));
  const info = h('p', {class: 'state-info muted'});
  const show = () => {
    replace(badge, stateBadge(a.state));
    info.textContent = a.state_at ? `${a.state} by ${a.state_by || '?'} at ${fmtTime(a.state_at)}${a.state_note ? ` — ${a.state_note}` : ''}` : '';
    ackB.disabled = a.state === 'acknowledged';
    closeB.disabled = a.state === 'closed';
    reopenB.disabled = a.state === 'new';
  };
  const act = async (st) => {
    try {
      const r = await changeState([a.id], st);
      Object.assign(a, r.alerts[0]);
      show();
      toast(`${STATE_VERB[st]}.`);
    } catch (e) {
      toast(`Could not change the state: ${e.message}`, 'error');
    }
  };
  const ackB = h('button', {type: 'button', class: 'action action-acknowledged', 'aria-keyshortcuts': 'a', on: {click: () => act('acknowledged')}}, 'Acknowledge');
  const closeB = h('button', {type: 'button', class: 'action action-closed', 'aria-keyshortcuts': 'c', on: {click: () => act('closed')}}, 'Close');
  const reopenB = h('button', {type: 'button', class: 'action action-new', 'aria-keyshortcuts': 'n', on: {click: () => act('new')}}, 'Reopen');
  const toolbar = h('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Alert state'}, ackB, closeB, reopenB, info);
  show();
  return {badge, toolbar, act};
}

/** "What happened": the sentence, the rule's description, its ATT&CK techniques. */
function whatHappened(a, rule, src, dst) {
  const desc = rule && rule.description;
  const attacks = (a.attack && a.attack.length ? a.attack : (rule && rule.attack) || []);
  return h('section', {class: 'card what', 'aria-labelledby': 'h-what'},
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
    })) : h('p', {class: 'muted'}, 'No technique named by the rule.'));
}

/** "Who talked to whom": both host cards and the flow. */
function whoTalked(a, src, dst) {
  const flow = a.flow || {};
  return h('section', {class: 'card', 'aria-labelledby': 'h-who'},
    h('h2', {id: 'h-who'}, 'Who talked to whom'),
    h('div', {class: 'hosts'},
      hostCard('Source (client)', a.src_ip, a.src_port, src, flow.vlan),
      h('div', {class: 'arrow', 'aria-hidden': 'true'}, '→'),
      hostCard('Destination (server)', a.dest_ip, a.dest_port, dst, flow.vlan)),
    h('p', {class: 'muted'}, `Flow ${flow.flow_id ?? '—'} · ${flow.proto || ''} ${flow.app_proto || a.protocol || ''}${flow.vlan !== undefined ? ` · VLAN ${Array.isArray(flow.vlan) ? flow.vlan.join('/') : flow.vlan}` : ''} · seen ${fmtTime(a.timestamp)} · received ${fmtTime(a.received)}`));
}

/** "Decoded transaction": one block per protocol object, and the raw EVE line. */
function decoded(a) {
  const tx = a.transaction;
  const parts = tx ? Object.entries(tx).map(([proto, obj]) => h('div', {class: 'tx-block'}, h('h3', proto), transaction(proto, obj))) : [h('p', {class: 'muted'}, 'This alert carries no decoded transaction.')];
  return h('section', {class: 'card', 'aria-labelledby': 'h-tx', id: 'transaction'},
    h('h2', {id: 'h-tx'}, 'Decoded transaction'), parts,
    h('details', {class: 'raw'}, h('summary', 'EVE JSON line as received'), h('pre', JSON.stringify(a.eve, null, 2))));
}

/** "Its group": how many alerts of this rule and pair, first and last seen, the group's state, a link to all. */
function groupCard(a, g) {
  if (!g) return null;
  const n = Number(g.count);
  return h('section', {class: 'card', 'aria-labelledby': 'h-group', id: 'alert-group'},
    h('h2', {id: 'h-group'}, 'Its group'),
    h('p', n > 1
      ? `One of ${num(n)} alerts of this rule from ${g.src_ip} to ${g.dest_ip}, first seen ${fmtTime(g.first_seen)}, last seen ${fmtTime(g.last_seen)}. `
      : `The only alert of this rule from ${g.src_ip} to ${g.dest_ip} so far (seen ${fmtTime(g.first_seen)}). `,
    'The group is ', stateBadge(g.state), '.'),
    h('p', h('a', {href: `#/alert-groups/${encodeURIComponent(g.id)}`, id: 'group-link'}, n > 1 ? `Show all ${num(n)} alerts of the group` : 'Show the group')));
}

/** Fills `box` with the alerts of the same flow, then the same device, then the same source. */
async function loadRelated(box, a, signal) {
  try {
    const hosts = [...new Set([a.dest_ip, a.src_ip])];
    const lists = await Promise.all(hosts.map((ip) => api(`/alerts?host=${encodeURIComponent(ip)}&limit=100`, {signal})));
    const seen = new Map();
    for (const l of lists) for (const x of l.alerts || []) if (x.id !== a.id) seen.set(x.id, x);
    const sameFlow = (x) => x.src_ip === a.src_ip && x.dest_ip === a.dest_ip && x.src_port === a.src_port && x.dest_port === a.dest_port;
    // Same flow first, then the same device (destination), then the same source.
    const tier = (x) => (sameFlow(x) ? 0 : (x.dest_ip === a.dest_ip || x.src_ip === a.dest_ip) ? 1 : 2);
    const tag = ['same flow', `same device ${a.dest_ip}`, `same source ${a.src_ip}`];
    const list = [...seen.values()].sort((x, y) => (tier(x) - tier(y)) || (parseTime(y.timestamp) - parseTime(x.timestamp))).slice(0, 30);
    if (!list.length) {
      replace(box, h('p', {class: 'muted'}, 'No other alert involves these hosts.'));
      return;
    }
    replace(box, h('div', {class: 'table-wrap'}, h('table', {class: 'mini related-table'},
      h('thead', h('tr', ['', 'Severity', 'Time', 'Alert', 'Hosts', 'State'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', list.map((x) => h('tr',
        h('td', h('span', {class: ['tag', `tag-${tier(x)}`]}, tag[tier(x)])),
        h('td', sevBadge(x.severity_name)),
        h('td', fmtTime(x.timestamp)),
        h('td', h('a', {href: `#/alerts/${encodeURIComponent(x.id)}`}, String(x.signature || x.signature_id))),
        h('td', `${x.src_ip} → ${x.dest_ip}`),
        h('td', stateBadge(x.state))))))));
  } catch (e) {
    if (e.name !== 'AbortError') replace(box, errorBox(e));
  }
}

/** #/alerts/ID. */
export async function viewAlert(root, id, ctx) {
  setTitle('Alert');
  replace(root, h('p', {class: 'list-status'}, 'Loading…'));
  let a;
  try {
    a = await api(`/alerts/${encodeURIComponent(id)}`, {signal: ctx.signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    replace(root, heading('Alert'), errorBox(e), h('p', h('a', {href: state.lastList}, '← Back to alerts')));
    return;
  }
  const [rule, src, dst, tuning, group] = await Promise.all([
    api(`/rules/${encodeURIComponent(a.signature_id)}`, {signal: ctx.signal}).catch(orNull),
    api(`/assets/${encodeURIComponent(a.src_ip)}`, {signal: ctx.signal}).catch(orNull),
    api(`/assets/${encodeURIComponent(a.dest_ip)}`, {signal: ctx.signal}).catch(orNull),
    api('/overrides', {signal: ctx.signal}).catch(orNull),
    a.group_id ? api(`/alert-groups/${encodeURIComponent(a.group_id)}`, {signal: ctx.signal}).catch(orNull) : null,
  ]);
  setTitle(a.signature || 'Alert');
  const controls = stateControls(a);
  const related = h('div', {class: 'related'}, h('p', {class: 'muted'}, 'Loading…'));
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: state.lastList}, '← Alerts'), h('span', {class: 'muted'}, ' (Esc)')),
    h('div', {class: 'alert-head'},
      sevBadge(a.severity_name),
      heading(String(a.signature || `rule ${a.signature_id}`)),
      controls.badge),
    controls.toolbar,
    whatHappened(a, rule, src, dst),
    groupCard(a, group),
    whoTalked(a, src, dst),
    tuningCard(a, tuning),
    decoded(a),
    h('section', {class: 'card', 'aria-labelledby': 'h-rel'},
      h('h2', {id: 'h-rel'}, 'Related alerts'), related));
  focusTitle();
  ctx.keys = (ev) => {
    if (KEY_STATE.has(ev.key)) { controls.act(KEY_STATE.get(ev.key)); return true; }
    if (ev.key === 'Escape') { location.hash = state.lastList || '#/alerts'; return true; }
    return false;
  };
  await loadRelated(related, a, ctx.signal);
}
