// Keyboard shortcuts of the whole page: ? help, g o / g a / g i / g r / g b to go
// to a page, / to search; the other keys go to the view shown (its `keys`).
// Nothing happens while typing in a field, but Esc leaves it.

import {$} from './page.js';
import {currentView} from './router.js';

/** Where g then a key goes. */
const GO = new Map([['o', '#/overview'], ['a', '#/alerts'], ['i', '#/assets'], ['r', '#/rules'], ['b', '#/baseline']]);

let gPending = 0; // when g was pressed (ms), 0 if not

/** The document's keydown listener. */
export function onKey(ev) {
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
    const dest = GO.get(ev.key);
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
  const view = currentView();
  if (view && view.keys && view.keys(ev)) ev.preventDefault();
}
