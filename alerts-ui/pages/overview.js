// The overview, #/overview?range=…: totals per severity and state, alerts
// over time, top rules and hosts, alerts per protocol, sensor health; it
// refreshes when alerts come live.

import {h, replace, route, fmtTime, parseTime, ago, num, bytes, SEVERITIES} from '../dom.js';
import {api, rulesMap, protocolsOrNone} from '../api.js';
import {openStream} from '../stream.js';
import {errorBox, setTitle, heading, focusTitle, debounce} from '../page.js';
import {ruleName, identityLine, protocolColours} from '../labels.js';
import {RANGE_SEC} from '../filters.js';
import {bars, timeChart} from '../views.js';

const PERIODS = [['', 'All time'], ['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];

/** The sensors with their last counters. */
function sensorTable(list) {
  if (!list.length) return h('p', {class: 'muted'}, 'No sensor has reported yet.');
  return h('div', {class: 'table-wrap'}, h('table', {class: 'mini sensors'},
    h('thead', h('tr', ['Sensor', 'Last seen', 'Packets', 'Packets/s', 'Drops', 'Active flows', 'Alerts'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', list.map((sn) => {
      const ls = sn.last_stats || {};
      const st = sn.stats || {};
      const up = Number(st.uptime);
      const pps = ls.packets !== undefined && ls.packets !== null && up > 0 ? Number(ls.packets) / up : null;
      const drops = Number(ls.drops || 0);
      return h('tr',
        h('th', {scope: 'row'}, String(sn.name)),
        h('td', {title: fmtTime(sn.last_seen)}, ago(sn.last_seen) || fmtTime(sn.last_seen)),
        h('td', num(ls.packets)),
        h('td', pps === null ? '—' : num(Math.round(pps))),
        h('td', {class: drops > 0 ? 'warn' : ''}, num(ls.drops ?? 0)),
        h('td', num(ls.flows)),
        h('td', h('a', {href: route('alerts', {q: ''})}, num(sn.alerts))));
    }))));
}

/** The stat tiles: total, new, one per severity, store size. */
function statCards(range, sev, st, stats) {
  const total = (sev.counts || []).reduce((s2, c) => s2 + c.count, 0);
  const newCount = ((st.counts || []).find((c) => c.key === 'new') || {}).count || 0;
  return [
    h('a', {class: 'stat', href: route('alerts', {range})}, h('span', {class: 'stat-n'}, num(total)), h('span', {class: 'stat-l'}, range ? 'alerts in period' : 'alerts stored')),
    h('a', {class: 'stat stat-new', href: route('alerts', {state: 'new'})}, h('span', {class: 'stat-n'}, num(newCount)), h('span', {class: 'stat-l'}, 'new (not triaged)')),
    SEVERITIES.map((sv) => {
      const c = (sev.counts || []).find((x) => x.name === sv);
      return h('a', {class: ['stat', `stat-${sv}`], href: route('alerts', {severity: sv, range})}, h('span', {class: 'stat-n'}, num(c ? c.count : 0)), h('span', {class: 'stat-l'}, sv));
    }),
    h('div', {class: 'stat stat-store'}, h('span', {class: 'stat-n'}, bytes(stats.file_bytes)), h('span', {class: 'stat-l'}, 'store on disk')),
  ];
}

/**
 * Draws the alerts over time into `chart`: 15 min bars for 24 h, a day for
 * 30 d, an hour otherwise; for all time the bar follows the span of the data.
 */
async function drawChart(chart, range, from) {
  const q = (bucket) => {
    const p = new URLSearchParams({by: 'time', bucket: String(bucket)});
    if (from !== undefined) p.set('from', String(from));
    return `/counts?${p}`;
  };
  let bucket = range === '24h' ? 900 : range === '30d' ? 86400 : 3600;
  let d = await api(q(bucket));
  const ts = (d.counts || []).map((c) => parseTime(c.start)).filter((t) => !Number.isNaN(t));
  if (ts.length && !range) {
    const span = Math.max(...ts) - Math.min(...ts);
    if (span <= 6 * 3600e3) bucket = 60;
    else if (span > 60 * 86400e3) bucket = 86400;
    if (bucket !== 3600) d = await api(q(bucket));
  }
  replace(chart, timeChart(d.counts || [], bucket),
    h('p', {class: 'muted'}, `Bars of ${bucket >= 3600 ? `${bucket / 3600} h` : `${bucket / 60} min`}, by the time the traffic was seen.`));
}

/** #/overview. */
export async function viewOverview(root, params, ctx) {
  setTitle('Overview');
  const range = params.get('range') || '';
  const rangeSel = h('select', {id: 'o-range', 'aria-label': 'Time range'},
    PERIODS.map(([v, l]) => h('option', {value: v, selected: v === range}, l)));
  rangeSel.addEventListener('change', () => { location.hash = route('overview', {range: rangeSel.value}); });
  const cards = h('div', {class: 'cards'});
  const chart = h('div', {class: 'chart-wrap'}, h('p', {class: 'muted'}, 'Loading…'));
  const topRules = h('div');
  const topHosts = h('div');
  const byProto = h('div');
  const sensors = h('div');
  replace(root,
    h('div', {class: 'view-head'}, heading('Overview'), h('label', {class: 'field inline'}, h('span', {class: 'field-label'}, 'Period '), rangeSel)),
    cards,
    h('section', {class: 'card', 'aria-labelledby': 'h-time'}, h('h2', {id: 'h-time'}, 'Alerts over time'), chart),
    h('div', {class: 'grid2'},
      h('section', {class: 'card', 'aria-labelledby': 'h-rules'}, h('h2', {id: 'h-rules'}, 'Top rules'), topRules),
      h('section', {class: 'card', 'aria-labelledby': 'h-hosts'}, h('h2', {id: 'h-hosts'}, 'Top hosts'), topHosts)),
    h('div', {class: 'grid2'},
      h('section', {class: 'card', 'aria-labelledby': 'h-proto'}, h('h2', {id: 'h-proto'}, 'By protocol'), byProto),
      h('section', {class: 'card', 'aria-labelledby': 'h-sensors'}, h('h2', {id: 'h-sensors'}, 'Sensor health'), sensors)));
  focusTitle();

  const load = async () => {
    const from = RANGE_SEC[range] ? Math.floor(Date.now() / 1000) - RANGE_SEC[range] : undefined;
    const tq = (by, extra = {}) => {
      const q = new URLSearchParams({by, ...extra});
      if (from !== undefined) q.set('from', String(from));
      return `/counts?${q}`;
    };
    try {
      const [rules, sev, st, rc, hc, pc, sens, stats, assets, protocols] = await Promise.all([
        rulesMap(true).catch(() => new Map()), api(tq('severity')), api('/counts?by=state'), api(tq('rule')), api(tq('host')),
        api(tq('protocol')), api('/sensors'), api('/stats'), api('/assets').catch(() => ({assets: []})), protocolsOrNone(),
      ]);
      const colourOf = protocolColours(protocols);
      replace(cards, statCards(range, sev, st, stats));
      const top = (counts, n = 10) => [...(counts || [])].sort((x, y) => y.count - x.count).slice(0, n);
      replace(topRules, bars(top(rc.counts).map((c) => ({label: `${c.key} — ${ruleName(rules, c.key, '')}`, count: c.count, href: route('alerts', {rule: c.key, range})})), {empty: 'No alerts yet.', label: 'Top rules'}));
      const byIp = new Map((assets.assets || []).map((x) => [x.ip, x]));
      replace(topHosts, bars(top(hc.counts).map((c) => {
        const idl = identityLine(byIp.get(c.key));
        return {label: [h('span', {class: 'ip'}, String(c.key)), idl ? h('span', {class: 'muted'}, ` ${idl}`) : null], count: c.count, href: route('alerts', {host: c.key, range})};
      }), {empty: 'No alerts yet.', label: 'Top hosts'}));
      replace(byProto, bars(top(pc.counts).map((c) => ({label: String(c.key), count: c.count, href: route('alerts', {protocol: c.key, range}), color: colourOf(c.key)})), {empty: 'No alerts yet.', label: 'Alerts by protocol'}));
      replace(sensors, sensorTable(sens.sensors || []));
      await drawChart(chart, range, from);
    } catch (e) {
      if (e.name !== 'AbortError') replace(cards, errorBox(e));
    }
  };

  await load();
  // Live: new alerts refresh the overview (at most every 2 s).
  const refresh = debounce(load, 2000);
  const stop = openStream('', {onAlert: refresh});
  ctx.cleanup.push(stop);
  const timer = setInterval(() => api('/sensors').then((s2) => replace(sensors, sensorTable(s2.sensors || []))).catch(() => {}), 10000);
  ctx.cleanup.push(() => clearInterval(timer));
}
