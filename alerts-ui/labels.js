// Short labels several views share: ATT&CK chips, rule names, a device's
// identity on one line, protocol colours, the words for state changes.

import {h} from './dom.js';
import {technique} from './attack.js';

/** ATT&CK technique ids as chips (with their names when `long`). */
export function attackChips(ids, long = false) {
  return (ids || []).map((id) => {
    const t = technique(id);
    return h('span', {class: 'attack', title: t ? `${id} ${t.name} (${t.tactics})` : String(id)},
      String(id), long && t ? h('span', {class: 'attack-name'}, ` ${t.name}`) : null);
  });
}

/** The name of rule `sid` from the rules map, else `fallback`, else "rule SID". */
export function ruleName(rules, sid, fallback) {
  const r = rules && rules.get(Number(sid));
  return (r && r.name) || fallback || `rule ${sid}`;
}

/** Vendor · product · model · order number · firmware of an asset, or null. */
export function identityLine(asset) {
  const id = asset && asset.identity;
  if (!id) return null;
  const parts = [id.vendor, id.product || id.module_name, id.model, id.order_number, id.firmware ? `fw ${id.firmware}` : null]
    .filter((x) => x !== undefined && x !== null && x !== '');
  return parts.length ? parts.map(String).join(' · ') : null;
}

/** name → the colour the analyzer gives the protocol (null when none), from `protocolList`. */
export function protocolColours(protocols) {
  const byName = new Map(protocols.map((p) => [p.name, p.color]));
  return (name) => byName.get(name) || null;
}

/** What a toast says after a state change. */
export const STATE_VERB = {acknowledged: 'Acknowledged', closed: 'Closed', new: 'Reopened'};

/** The state an action key sets: a acknowledges, c closes, n reopens. */
export const KEY_STATE = new Map([['a', 'acknowledged'], ['c', 'closed'], ['n', 'new']]);
