// The alert filters: read from the route's query, written back to it (so a
// filtered list is a link), and turned into the API's query.

import {route} from './dom.js';

export const RANGES = [
  ['', 'All time'], ['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['custom', 'Custom…'],
];
export const RANGE_SEC = {'15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800, '30d': 2592000};

/** The filters of a route's query parameters. */
export function filtersFrom(params) {
  const list = (k) => (params.get(k) || '').split(',').map((x) => x.trim()).filter(Boolean);
  return {
    range: params.get('range') || (params.get('from') || params.get('to') ? 'custom' : ''),
    from: params.get('from') || '',
    to: params.get('to') || '',
    severity: list('severity'),
    protocol: params.get('protocol') || '',
    rule: params.get('rule') || '',
    host: params.get('host') || '',
    state: params.get('state') || '',
    q: params.get('q') || '',
    // Duplicates are shown as groups unless the route says `group=off`.
    grouped: params.get('group') !== 'off',
  };
}

/** The `#/alerts?…` route of filters. */
export function filtersRoute(f) {
  return route('alerts', {
    range: f.range === 'custom' ? '' : f.range,
    from: f.range === 'custom' ? f.from : '',
    to: f.range === 'custom' ? f.to : '',
    severity: f.severity, protocol: f.protocol, rule: f.rule, host: f.host, state: f.state, q: f.q,
    group: f.grouped === false ? 'off' : '',
  });
}

/** The time range as {from, to} in Unix seconds (either may be undefined). */
export function timeBounds(f) {
  if (RANGE_SEC[f.range]) return {from: Math.floor(Date.now() / 1000) - RANGE_SEC[f.range]};
  if (f.range === 'custom') {
    const sec = (v) => {
      const t = Date.parse(v);
      return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
    };
    return {from: f.from ? sec(f.from) : undefined, to: f.to ? sec(f.to) : undefined};
  }
  return {};
}

/** The /alerts (or /stream, without the time) query of filters. */
export function apiQuery(f, {withTime = true} = {}) {
  const q = new URLSearchParams();
  if (withTime) {
    const b = timeBounds(f);
    if (b.from !== undefined) q.set('from', String(b.from));
    if (b.to !== undefined) q.set('to', String(b.to));
  }
  if (f.severity.length) q.set('severity', f.severity.join(','));
  if (f.protocol) q.set('protocol', f.protocol);
  if (f.rule) q.set('rule', f.rule);
  if (f.host) q.set('host', f.host);
  if (f.state === 'open') q.set('state', 'new,acknowledged');
  else if (f.state) q.set('state', f.state);
  if (f.q) q.set('q', f.q);
  return q;
}

// Local datetime-local value ↔ ISO (UTC) text kept in the URL.
export const toLocalInput = (iso) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};
export const fromLocalInput = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');
