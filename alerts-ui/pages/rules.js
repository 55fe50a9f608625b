// The loaded rules, #/rules?q=…, with their hit counts and the active
// overrides, and one rule, #/rules/ID, with its YAML source.

import {h, replace, route, fmtTime, num, sevBadge} from '../dom.js';
import {api, rulesMap} from '../api.js';
import {errorBox, setTitle, heading, focusTitle, debounce, rowKeys} from '../page.js';
import {attackChips} from '../labels.js';
import {technique} from '../attack.js';
import {overridesCard} from './overrides.js';

/** The rules table of `shown`. */
function rulesTable(shown) {
  const openRule = (r) => { location.hash = `#/rules/${r.id}`; };
  return h('table', {class: 'rules'},
    h('thead', h('tr', ['Id', 'Name', 'Severity', 'Protocol', 'ATT&CK', 'Hits', 'Last hit'].map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', shown.map((r) => h('tr', {class: 'rule-row', tabindex: '0', dataset: {id: r.id},
      on: {
        click: (ev) => { if (!ev.target.closest('a')) openRule(r); },
        keydown: (ev) => rowKeys(ev, () => openRule(r)),
      }},
    h('td', h('a', {href: `#/rules/${r.id}`, tabindex: '-1'}, String(r.id))),
    h('td', r.name ? String(r.name) : h('span', {class: 'muted'}, r.loaded === false ? '(not loaded)' : '—')),
    h('td', r.severity ? sevBadge(String(r.severity)) : '—'),
    h('td', String(r.protocol || '—')),
    h('td', attackChips(r.attack)),
    h('td', {class: 'num'}, r.hits ? h('a', {href: route('alerts', {rule: r.id}), tabindex: '-1'}, num(r.hits)) : '0'),
    h('td', r.last_hit ? fmtTime(r.last_hit) : '—')))));
}

/** #/rules. */
export async function viewRules(root, params, ctx) {
  setTitle('Rules');
  const q = (params.get('q') || '').toLowerCase();
  const qIn = h('input', {type: 'search', id: 'rule-q', value: q, placeholder: 'id, name, protocol, technique…', autocomplete: 'off'});
  const box = h('div', {class: 'table-wrap'}, h('p', {class: 'muted'}, 'Loading…'));
  const overrides = h('div', {class: 'overrides-slot'});
  replace(root, h('div', {class: 'view-head'}, heading('Rules')), overrides,
    h('form', {class: 'filters', role: 'search', on: {submit: (ev) => ev.preventDefault()}},
      h('label', {for: 'rule-q', class: 'field'}, h('span', {class: 'field-label'}, 'Filter'), qIn)), box);
  focusTitle();
  overridesCard(ctx.signal).then((card) => replace(overrides, card));
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
    replace(box, rulesTable(shown));
  };
  qIn.addEventListener('input', debounce(draw, 200));
  draw();
}

/** #/rules/ID. */
export async function viewRule(root, id, ctx) {
  setTitle(`Rule ${id}`);
  let r;
  try {
    r = await api(`/rules/${encodeURIComponent(id)}`, {signal: ctx.signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
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
