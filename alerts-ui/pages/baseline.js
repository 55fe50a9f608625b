// The learned baseline, #/baseline: its state (learning until T, enforcing
// since T, none and how to start), a download of its file, and the
// deviations since enforcement started, grouped as Accept adds them. Per
// group: Accept (added to the file, which is reloaded; the group's alerts are
// closed) or Keep alerting (the alerts are acknowledged, the file is left).
//
// Everything in a deviation (addresses, operation names, the observed and
// learned texts) comes from packets: it is shown as text through `h`.

import {h, replace, route, fmtTime, num, sevBadge} from '../dom.js';
import {api} from '../api.js';
import {state} from '../state.js';
import {errorBox, setTitle, heading, focusTitle, toast} from '../page.js';

/** The route of the file's download (a fixed path `dom.js` lets through). */
export const BASELINE_FILE = '/api/v1/baseline/file';

/** How to get a baseline enforced, for the `none` state. */
function howToStart() {
  return h('div', {class: 'how'},
    h('p', 'No baseline is learned or enforced. To learn what the plant does and alert on what is new:'),
    h('ul',
      h('li', h('code', 'otwatch learn -o baseline.yaml CAPTURE.pcap'), ' learns one from captures; review the file, then'),
      h('li', h('code', 'otwatch run --baseline baseline.yaml'), ' (or ', h('code', 'otwatch sensor --baseline …'), ') enforces it;'),
      h('li', h('code', 'otwatch run --learn 7d'), ' learns live for a period, then writes the file and enforces it.')));
}

/** Why the file could not be read: expected while learning (it is written at the end), an error otherwise. */
function fileProblem(b) {
  if (!b.file_error) return null;
  if (b.state === 'learning') return h('p', {class: 'muted'}, 'The file is written when learning ends.');
  return h('p', {class: 'error', role: 'alert'}, 'The file cannot be read: ', String(b.file_error));
}

/** The state card: what is enforced since when, the file's numbers, the download. */
function stateCard(b) {
  const s = b.summary;
  const learned = s && s.learned ? s.learned : {};
  const line = {
    learning: () => ['Learning until ', h('strong', fmtTime(b.until)), ': deviations do not alert yet.'],
    enforcing: () => ['Enforcing since ', h('strong', fmtTime(b.since)), ': what the baseline does not have raises a deviation alert.'],
  }[b.state];
  return h('section', {class: 'card', 'aria-labelledby': 'h-state', id: 'baseline-state', dataset: {state: String(b.state)}},
    h('h2', {id: 'h-state'}, 'State'),
    line ? h('p', {class: 'state-line'}, line()) : howToStart(),
    b.path ? h('table', {class: 'kv'}, h('tbody',
      h('tr', h('th', {scope: 'row'}, 'File'), h('td', h('code', String(b.path)))),
      s ? h('tr', h('th', {scope: 'row'}, 'Holds'), h('td', `${num(s.servers)} servers, ${num(s.pairs)} client/server pairs, ${num(s.operations)} operations`)) : null,
      s ? h('tr', h('th', {scope: 'row'}, 'Learned'), h('td', `${fmtTime(learned.from)} to ${fmtTime(learned.until)}`,
        (learned.sources || []).length ? ` from ${learned.sources.map(String).join(', ')}` : '')) : null)) : null,
    fileProblem(b),
    b.path && s ? h('p', h('a', {class: 'action', id: 'baseline-download', href: BASELINE_FILE, download: ''}, 'Download the baseline file')) : null,
    b.can_accept ? null : h('p', {class: 'muted', id: 'why-no-accept'}, String(b.why_not || '')));
}

/** What a group's operation is, in words: "write write_single_register (6) unit 1". */
function operationText(op) {
  if (!op || typeof op !== 'object') return '—';
  const quals = Object.entries(op).filter(([k]) => !['class', 'function', 'name'].includes(k))
    .map(([k, v]) => `${k} ${String(v)}`);
  return [String(op.class || ''), op.name ? String(op.name) : '', `(${String(op.function)})`, ...quals].filter(Boolean).join(' ');
}

/** The review cell of a group: its outcome, or the two buttons. */
function reviewCell(g, canAccept, onReview) {
  const cell = h('td', {class: 'c-review'});
  const show = () => {
    if (g.review === 'accepted') replace(cell, h('span', {class: 'reviewed reviewed-accepted'}, 'Accepted into the baseline'));
    else if (g.review === 'kept') replace(cell, h('span', {class: 'reviewed reviewed-kept'}, 'Kept alerting'));
    else {
      replace(cell,
        h('button', {type: 'button', class: 'action action-accept', disabled: !canAccept,
          title: canAccept ? 'Add this to the baseline file and reload it' : 'No enforced baseline file to accept into',
          on: {click: (ev) => onReview(g, 'accept', ev.currentTarget, show)}}, 'Accept'),
        ' ',
        h('button', {type: 'button', class: 'action action-keep',
          title: 'Leave the baseline as it is: this goes on alerting',
          on: {click: (ev) => onReview(g, 'keep', ev.currentTarget, show)}}, 'Keep alerting'));
    }
  };
  show();
  return cell;
}

/** The table of deviation groups. */
function groupsTable(groups, canAccept, onReview) {
  return h('table', {class: 'deviations'},
    h('thead', h('tr', ['Deviation', 'Client → server', 'Operation', 'Observed / learned', 'Count', 'First / last', 'Review']
      .map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', groups.map((g) => h('tr', {class: 'deviation-row', dataset: {key: String(g.key), review: String(g.review || 'none')}},
      h('td', h('div', sevBadge(Number(g.severity))), h('strong', String(g.deviation)),
        h('div', {class: 'muted'}, h('a', {href: `#/alerts/${encodeURIComponent(String(g.example_id))}`}, 'example alert'))),
      h('td', h('code', String(g.client)), ' → ', h('code', String(g.server)),
        h('div', {class: 'muted'}, `${String(g.protocol)} port ${String(g.port)}${g.station !== null && g.station !== undefined ? ` · station ${String(g.station)}` : ''}`)),
      h('td', operationText(g.operation)),
      h('td', h('div', {class: 'observed'}, h('span', {class: 'muted'}, 'seen: '), String(g.observed ?? '')),
        h('div', {class: 'learned'}, h('span', {class: 'muted'}, 'learned: '), String(g.learned ?? ''))),
      h('td', {class: 'num'}, h('a', {href: route('alerts', {protocol: 'baseline', host: g.client})}, num(g.count))),
      h('td', fmtTime(g.first), h('div', {class: 'muted'}, fmtTime(g.last))),
      reviewCell(g, canAccept, onReview)))));
}

/** Posts the review of group `g` (`accept` or `keep`); `show` redraws it. */
async function review(g, what, button, show) {
  button.disabled = true;
  try {
    const r = await api(`/baseline/${what}`, {method: 'POST', body: {id: g.example_id, by: state.analyst}});
    g.review = what === 'accept' ? 'accepted' : 'kept';
    show();
    if (what === 'accept' && r.reload && !r.reload.ok) toast(`Accepted into the file, but the reload failed: ${r.reload.message}`, 'error');
    else toast(what === 'accept' ? `Accepted (${r.alerts} alert${r.alerts === 1 ? '' : 's'} closed).` : 'Kept alerting.');
  } catch (e) {
    button.disabled = false;
    toast(`Could not ${what === 'accept' ? 'accept' : 'keep'} it: ${e.message}`, 'error');
  }
}

/** #/baseline. */
export async function viewBaseline(root, params, ctx) {
  setTitle('Baseline');
  const box = h('section', {class: 'card', 'aria-labelledby': 'h-dev'}, h('h2', {id: 'h-dev'}, 'Deviations'), h('p', {class: 'muted'}, 'Loading…'));
  replace(root, h('div', {class: 'view-head'}, heading('Baseline')), box);
  focusTitle();
  let b;
  let d;
  try {
    [b, d] = await Promise.all([api('/baseline', {signal: ctx.signal}), api('/baseline/deviations', {signal: ctx.signal})]);
  } catch (e) {
    if (e.name !== 'AbortError') replace(box, errorBox(e));
    return;
  }
  const groups = d.groups || [];
  const since = d.since ? ` since ${fmtTime(d.since)}` : '';
  const onReview = (g, what, button, show) => {
    const tr = button.closest('tr');
    return review(g, what, button, () => {
      show();
      if (tr) tr.dataset.review = String(g.review);
    });
  };
  replace(box, h('h2', {id: 'h-dev'}, 'Deviations'),
    h('p', {class: 'muted'}, groups.length
      ? `${num(groups.length)} group${groups.length === 1 ? '' : 's'} of deviation alerts${since}, newest first. Accept adds one to the baseline file and reloads it; Keep alerting leaves the baseline as it is.`
      : `No deviation alerts${since}.`),
    d.truncated || d.more_groups ? h('p', {class: 'muted'}, `Only the newest ${num(d.scanned)} deviation alerts are grouped here.`) : null,
    groups.length ? h('div', {class: 'table-wrap'}, groupsTable(groups, Boolean(b.can_accept), onReview)) : null);
  root.insertBefore(stateCard(b), box);
}
