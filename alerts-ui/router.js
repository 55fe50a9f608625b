// The router: the URL fragment names the view (#/page/arg?query), so every
// view, filters included, can be shared as a link. One view is shown at a
// time; drawing the next one first ends the last (its requests, streams and
// timers).
//
//   #/overview                      charts, top rules and hosts, sensor health
//   #/alerts?severity=…&q=…         live list of alerts with filters
//   #/alerts/ID                     one alert: what happened, who, decoded transaction
//   #/alert-groups/ID               one group of duplicates with all its alerts
//   #/assets  #/assets/IP           inventory, communication map, one asset
//   #/rules   #/rules/ID            loaded rules, hit counts, YAML
//   #/baseline                      the learned baseline: state, file, deviations to review

import {h, replace} from './dom.js';
import {$, main, liveStatus, errorBox, heading} from './page.js';
import {viewOverview} from './pages/overview.js';
import {viewAlerts, viewGroup} from './pages/alerts.js';
import {viewAlert} from './pages/alert.js';
import {viewAssets, viewAsset} from './pages/assets.js';
import {viewRules, viewRule} from './pages/rules.js';
import {viewBaseline} from './pages/baseline.js';

/** Per page: its view (#/page?query) and the view of one item (#/page/arg). */
const PAGES = {
  overview: {list: viewOverview},
  alerts: {list: viewAlerts, one: viewAlert},
  'alert-groups': {list: viewAlerts, one: viewGroup},
  assets: {list: viewAssets, one: viewAsset},
  rules: {list: viewRules, one: viewRule},
  baseline: {list: viewBaseline},
};

// The view shown: {cleanup: [fn], signal, abort, keys: fn(ev) → handled}.
let current = null;

/** The view shown, for its keys. */
export function currentView() {
  return current;
}

/** Ends the view shown: its cleanups run, its requests are aborted. */
export function stopView() {
  if (!current) return;
  for (const fn of current.cleanup) {
    try { fn(); } catch (e) { console.warn(e); }
  }
  current.abort.abort();
  current = null;
}

/** The fragment as path parts (decoded) and query parameters. */
export function parseHash() {
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

/** Draws the view of the fragment; sets body[data-ready] to its page when done. */
export async function render() {
  stopView();
  const abort = new AbortController();
  const ctx = {cleanup: [], signal: abort.signal, abort, keys: null};
  current = ctx;
  const {parts, params} = parseHash();
  const [page = 'overview', arg] = parts;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  liveStatus('off');
  const root = main();
  root.dataset.view = page + (arg ? '-detail' : '');
  const views = Object.hasOwn(PAGES, page) ? PAGES[page] : null;
  try {
    if (views && arg && views.one) await views.one(root, arg, ctx);
    else if (views) await views.list(root, params, ctx);
    else replace(root, heading('Not found'), h('p', 'There is no such page. ', h('a', {href: '#/overview'}, 'Go to the overview.')));
  } catch (e) {
    // A view that was left draws nothing more: the next one owns the page.
    if (current === ctx && e.name !== 'AbortError' && e.status !== 401) replace(root, heading('Error'), errorBox(e));
  }
  if (current === ctx && !$('#login-form')) document.body.dataset.ready = page;
}
