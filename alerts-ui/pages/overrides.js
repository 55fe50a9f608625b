// Rule overrides (the analyzer's /api/v1/overrides): "do not alert on this
// rule from this source / for this pair" on the alert page, with a
// confirmation and an optional note, and the list of active overrides with
// Remove on the rules page. Addresses come from packets: shown as text
// through `h`.

import {h, replace, fmtTime} from '../dom.js';
import {api} from '../api.js';
import {state} from '../state.js';
import {toast, errorBox} from '../page.js';

/** What an override covers, in words. */
function scope(o) {
  if (o.src_ip && o.dest_ip) return `from ${o.src_ip} to ${o.dest_ip}`;
  if (o.src_ip) return `from ${o.src_ip}`;
  return `to ${o.dest_ip}`;
}

/** The toast after a change: the reload's outcome. */
function reloadNote(r, done) {
  if (r.reload && !r.reload.ok) toast(`${done}, but the reload failed: ${r.reload.message}`, 'error');
  else toast(`${done}${r.reload && r.reload.message ? ` (${r.reload.message})` : ''}.`);
}

/**
 * The "Tuning" card of alert `a`: two buttons, each opening a confirmation
 * with an optional note; `tuning` is the answer of GET /overrides.
 */
export function tuningCard(a, tuning) {
  const writable = Boolean(tuning && tuning.writable);
  const existing = (tuning && tuning.suppress) || [];
  const covered = (t) => existing.some((o) => o.rule === a.signature_id && o.src_ip === t.src_ip && (o.dest_ip || null) === (t.dest_ip || null));
  const confirmBox = h('div', {class: 'confirm', hidden: true});
  const status = h('p', {class: 'muted', id: 'override-status'});
  const targets = {
    source: {src_ip: a.src_ip},
    pair: {src_ip: a.src_ip, dest_ip: a.dest_ip},
  };
  const buttons = {};
  const refresh = () => {
    for (const [k, b] of Object.entries(buttons)) {
      b.disabled = !writable || covered(targets[k]);
      if (covered(targets[k])) b.title = 'An override already covers this';
    }
    const mine = existing.filter((o) => o.rule === a.signature_id);
    status.textContent = mine.length ? `Overrides of this rule: ${mine.map(scope).join('; ')}.` : '';
  };
  const open = (kind, button) => {
    const t = targets[kind];
    const note = h('input', {type: 'text', id: 'override-note', maxlength: '1000', autocomplete: 'off', placeholder: 'why (optional)'});
    const cancel = () => {
      confirmBox.hidden = true;
      replace(confirmBox);
      button.focus();
    };
    const submit = async (ev) => {
      ev.preventDefault();
      okB.disabled = true;
      try {
        const r = await api('/overrides', {method: 'POST', body: {rule: a.signature_id, ...t, note: note.value, by: state.analyst}});
        existing.splice(0, existing.length, ...(r.suppress || []));
        confirmBox.hidden = true;
        replace(confirmBox);
        refresh();
        reloadNote(r, `Rule ${a.signature_id} no longer alerts ${scope(t)}`);
        status.focus();
      } catch (e) {
        okB.disabled = false;
        toast(`Could not add the override: ${e.message}`, 'error');
      }
    };
    const okB = h('button', {type: 'submit', class: 'action action-confirm', id: 'override-confirm'}, 'Do not alert');
    replace(confirmBox, h('form', {class: 'confirm-form', 'aria-label': 'Confirm the override', on: {submit, keydown: (ev) => {
      if (ev.key === 'Escape') { ev.stopPropagation(); ev.preventDefault(); cancel(); }
    }}},
    h('p', 'Rule ', h('strong', String(a.signature_id)), ' ', String(a.signature || ''), ' will no longer alert ', h('strong', scope(t)),
      '. Its matches are still counted; remove the override on the Rules page.'),
    h('label', {for: 'override-note', class: 'field'}, h('span', {class: 'field-label'}, 'Note'), note),
    h('div', {class: 'toolbar'}, okB, h('button', {type: 'button', class: 'action', id: 'override-cancel', on: {click: cancel}}, 'Cancel'))));
    confirmBox.hidden = false;
    note.focus();
  };
  buttons.source = h('button', {type: 'button', class: 'action', id: 'suppress-source', on: {click: (ev) => open('source', ev.currentTarget)}},
    'Do not alert on this rule from this source');
  buttons.pair = h('button', {type: 'button', class: 'action', id: 'suppress-pair', on: {click: (ev) => open('pair', ev.currentTarget)}},
    'Do not alert on this rule for this pair');
  status.tabIndex = -1;
  refresh();
  return h('section', {class: 'card', 'aria-labelledby': 'h-tuning', id: 'tuning'},
    h('h2', {id: 'h-tuning'}, 'Tuning'),
    h('div', {class: 'toolbar', role: 'group', 'aria-label': 'Overrides'}, buttons.source, buttons.pair),
    writable ? null : h('p', {class: 'muted', id: 'why-no-override'}, String((tuning && tuning.why_not) || 'Overrides cannot be changed here.')),
    confirmBox, status);
}

/** The overrides card of the rules page: every active override with Remove. */
export async function overridesCard(signal) {
  const box = h('section', {class: 'card', 'aria-labelledby': 'h-overrides', id: 'overrides'},
    h('h2', {id: 'h-overrides'}, 'Overrides'), h('p', {class: 'muted'}, 'Loading…'));
  let o;
  try {
    o = await api('/overrides', {signal});
  } catch (e) {
    if (e.name !== 'AbortError') replace(box, h('h2', {id: 'h-overrides'}, 'Overrides'), errorBox(e));
    return box;
  }
  const draw = () => {
    const list = o.suppress || [];
    replace(box, h('h2', {id: 'h-overrides'}, 'Overrides'),
      o.file_error ? h('p', {class: 'error', role: 'alert'}, 'The overrides file cannot be read: ', String(o.file_error)) : null,
      o.writable ? null : h('p', {class: 'muted'}, String(o.why_not || '')),
      list.length ? h('div', {class: 'table-wrap'}, h('table', {class: 'mini overrides-table'},
        h('thead', h('tr', ['Rule', 'Does not alert', 'Note', 'By', 'Since', ''].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', list.map((x) => h('tr', {class: 'override-row', dataset: {rule: String(x.rule)}},
          h('td', h('a', {href: `#/rules/${encodeURIComponent(x.rule)}`}, String(x.rule)), x.rule_name ? h('div', {class: 'muted'}, String(x.rule_name)) : null),
          h('td', scope(x)),
          h('td', String(x.note || '')),
          h('td', String(x.by || '')),
          h('td', x.at ? fmtTime(x.at) : '—'),
          h('td', h('button', {type: 'button', class: 'action override-remove', disabled: !o.writable,
            'aria-label': `Remove the override of rule ${x.rule} ${scope(x)}`,
            on: {click: (ev) => remove(x, ev.currentTarget)}}, 'Remove'))))))) : h('p', {class: 'muted'}, o.writable
        ? 'No override: every rule alerts on every match. Add one from an alert ("Do not alert on this rule…").'
        : 'No override.'),
      o.path ? h('p', {class: 'muted'}, 'File ', h('code', String(o.path))) : null);
  };
  const remove = async (x, button) => {
    button.disabled = true;
    try {
      const r = await api('/overrides/remove', {method: 'POST', body: {rule: x.rule, src_ip: x.src_ip, dest_ip: x.dest_ip}});
      o.suppress = r.suppress || [];
      draw();
      reloadNote(r, `Rule ${x.rule} alerts ${scope(x)} again`);
      const head = box.querySelector('h2');
      if (head) { head.tabIndex = -1; head.focus(); }
    } catch (e) {
      button.disabled = false;
      toast(`Could not remove the override: ${e.message}`, 'error');
    }
  };
  draw();
  return box;
}
