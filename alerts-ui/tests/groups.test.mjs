// Browser test of the grouped alert list against the analyzer test daemon
// with the UI: 30 duplicates of one rule from one engineering station to one
// PLC, two other alerts, and one whose signature is HTML. The list shows
// groups by default with their counts, a group opens to its alerts, the
// group is acknowledged as a whole, a duplicate arriving live updates the
// count, and "Group duplicates" off lists every alert again.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startAnalyzerTestd, launch, watchedPage, ingest, apiGet, go, login, screenshot, SENSOR, eveTime} from './harness.mjs';

const PLC = '10.200.7.10';
const STATION = '10.200.7.20';
const OTHER = '10.200.7.21';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let server;
let browser;
let page;
let events;

/** An alert line: rule `sid` (`signature`) from `src` to the PLC, `secs` from now. */
function alertLine(n, sid, signature, src, secs) {
  return JSON.stringify({
    timestamp: eveTime(secs), flow_id: 9000 + n, event_type: 'alert',
    src_ip: src, src_port: 40000 + n, dest_ip: PLC, dest_port: 502, proto: 'TCP', app_proto: 'modbus',
    alert: {action: 'allowed', gid: 1, signature_id: sid, rev: 1, signature, category: 'Impair process control', severity: 2,
      metadata: {attack_id: ['T0855'], severity_name: ['high'], protocol: ['modbus']}},
    modbus: {transaction_id: n, unit_id: 1, request: {function_code: 6, function: 'write_single_register', access: 'write', address: n}},
    alert_id: `ui-group-${n}`, sensor: SENSOR,
  });
}

const groupRows = () => page.$$eval('tr.group-row', (trs) => trs.map((tr) => ({
  id: tr.dataset.id, state: tr.dataset.state, count: tr.dataset.count,
  countText: tr.querySelector('.c-count').textContent, text: tr.textContent,
})));

before(async () => {
  server = await startAnalyzerTestd();
  browser = await launch();
  ({page, events} = await watchedPage(browser.context, server));
  const lines = [];
  for (let n = 0; n < 30; n += 1) lines.push(alertLine(n, 110007, 'Modbus write from a host that is not an engineering station', STATION, -600 + n * 10));
  lines.push(alertLine(30, 110007, 'Modbus write from a host that is not an engineering station', OTHER, -100));
  lines.push(alertLine(31, 110001, HOSTILE, OTHER, -50));
  const report = await ingest(server, lines);
  assert.equal(report.stored, 32, JSON.stringify(report));
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('the alert list shows groups with their counts; a group opens to its alerts and is acknowledged as a whole', async () => {
  await login(page, server, '#/alerts');
  assert.equal(await page.getAttribute('#group-toggle', 'aria-pressed'), 'true', 'grouped by default');
  let shown = await groupRows();
  assert.equal(shown.length, 3, 'one group of 30 duplicates, two groups of one');
  const big = shown.find((g) => g.count === '30');
  assert.ok(big, JSON.stringify(shown));
  assert.match(big.countText, /30×/);
  assert.match(big.text, /Modbus write from a host that is not an engineering station/);
  assert.match(big.text, /10\.200\.7\.20 → 10\.200\.7\.10/);
  assert.equal(big.state, 'new');
  // The hostile signature is text, not markup.
  assert.ok(shown.some((g) => g.text.includes(HOSTILE)), 'the signature from the sensor is shown as text');
  assert.equal(await page.$$eval('tr.group-row img', (x) => x.length), 0);

  // Open the group from the keyboard: its 30 alerts, newest first, under it.
  const row = `tr.group-row[data-id="${big.id}"]`;
  await page.focus(row);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelectorAll(`tr.member-row[data-group="${id}"]`).length === 30, big.id);
  assert.equal(await page.getAttribute(`${row} button.expand`, 'aria-expanded'), 'true');
  const members = await page.$$eval(`tr.member-row[data-group="${big.id}"]`, (trs) => trs.map((tr) => tr.dataset.state));
  assert.deepEqual([...new Set(members)], ['new']);
  await screenshot(page, 'groups-expanded');
  // ← hides them, → shows them again.
  await page.focus(row);
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => document.querySelectorAll('tr.member-row').length === 0);
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.querySelectorAll('tr.member-row').length === 30);

  // Select the group and acknowledge it: every one of its alerts.
  await page.click(`${row} td.c-sel input`);
  assert.match(await page.textContent('.sel-info'), /1 selected/);
  await page.click('.toolbar button.action-acknowledged');
  await page.waitForSelector(`tr.group-row[data-id="${big.id}"][data-state="acknowledged"]`);
  await page.waitForFunction(() => [...document.querySelectorAll('tr.member-row')].every((tr) => tr.dataset.state === 'acknowledged'));
  assert.match(await page.textContent('#toast'), /Acknowledged 1 group \(30 alerts\)/);
  const g = await apiGet(server, `/alert-groups/${big.id}`);
  assert.deepEqual(g.states, {new: 0, acknowledged: 30, closed: 0});
  assert.equal(g.state, 'acknowledged');
  const acked = await apiGet(server, '/alerts?state=acknowledged&limit=100');
  assert.equal(acked.alerts.length, 30);
  assert.ok(acked.alerts.every((a) => a.group_id === big.id));

  // A duplicate arriving now joins the acknowledged group: the count grows live.
  await ingest(server, [alertLine(32, 110007, 'Modbus write from a host that is not an engineering station', STATION, 1)]);
  await page.waitForSelector(`tr.group-row[data-id="${big.id}"][data-count="31"]`, {timeout: 15000});
  shown = await groupRows();
  assert.equal(shown[0].id, big.id, 'the group with the newest alert is on top');
  assert.equal(shown[0].state, 'acknowledged', 'a duplicate of an acknowledged group does not come back as new');
  // The group was open: its alerts are read again, the new one first.
  await page.waitForFunction((id) => document.querySelectorAll(`tr.member-row[data-group="${id}"]`).length === 31, big.id);
  assert.equal(await page.getAttribute(`tr.member-row[data-group="${big.id}"]`, 'data-state'), 'acknowledged');
  assert.match(await page.textContent('.fresh-note'), /1 update of groups shown since the page was loaded/);
  await screenshot(page, 'groups-acknowledged');

  assert.equal(await page.evaluate(() => window.__pwned), 0, 'nothing from the alerts ran');
  assert.deepEqual(events.dialogs, []);
  assert.deepEqual(events.outside, [], 'no request left the analyzer');
  assert.ok(events.errors.length === 0, events.errors.join('\n'));
});

test('an alert shows its group and links to all its alerts; "Group duplicates" off lists every alert', async () => {
  const list = await apiGet(server, `/alerts?host=${STATION}&limit=1`);
  const one = list.alerts[0];
  await go(page, server, `#/alerts/${one.id}`);
  await page.waitForSelector('#alert-group');
  assert.match(await page.textContent('#alert-group'), /One of 31 alerts of this rule from 10\.200\.7\.20 to 10\.200\.7\.10/);
  await page.click('#group-link');
  await page.waitForFunction((id) => location.hash === `#/alert-groups/${id}` && document.body.dataset.ready === 'alert-groups', one.group_id);
  assert.equal(await page.textContent('#group-count'), '31');
  await page.waitForFunction(() => document.querySelectorAll('tr.alert-row').length === 31);
  // Close the whole group from its page, with the key c.
  await page.keyboard.press('c');
  await page.waitForFunction(() => document.querySelector('#group-state').textContent === 'closed');
  const g = await apiGet(server, `/alert-groups/${one.group_id}`);
  assert.deepEqual(g.states, {new: 0, acknowledged: 0, closed: 31});
  await screenshot(page, 'group');

  await go(page, server, '#/alerts');
  await page.click('#group-toggle');
  await page.waitForFunction(() => /group=off/.test(location.hash) && document.body.dataset.ready === 'alerts'
    && document.querySelectorAll('tr.alert-row').length === 33);
  assert.equal(await page.getAttribute('#group-toggle', 'aria-pressed'), 'false');
  assert.equal(await page.$$eval('tr.group-row', (x) => x.length), 0);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'alerts' && document.querySelectorAll('tr.alert-row').length === 33);
  assert.ok(events.errors.length === 0, events.errors.join('\n'));
});

test('the grouped list fits a narrow screen', async () => {
  const narrow = await browser.context.newPage();
  try {
    await narrow.setViewportSize({width: 390, height: 844});
    await narrow.goto(`${server.url}/#/alerts`);
    await narrow.waitForFunction(() => document.body.dataset.ready === 'alerts' && document.querySelector('tr.group-row'));
    await narrow.click('tr.group-row button.expand');
    await narrow.waitForSelector('tr.member-row');
    await screenshot(narrow, 'narrow-groups');
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the grouped list is ${overflow} px too wide`);
  } finally {
    await narrow.close();
  }
});
