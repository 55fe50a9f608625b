// Browser test of the Baseline page (#/baseline) against the analyzer test
// daemon enforcing a real baseline file (the reads-only Modbus baseline of
// the bundled rules' tests, `analyzer-testd --baseline`), fed with deviation
// alerts shaped as `otwatch replay --baseline` writes them for the polling
// master's writes. One deviation carries HTML in what comes from packets.
//
// `otwatch run --baseline` is not needed: the test daemon sets the same hook
// (Analyzer::set_baseline) that `otwatch run` sets.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {parse} from 'yaml';
import {ROOT, startAnalyzerTestd, launch, watchedPage, ingest, apiGet, go, login, screenshot, SENSOR, eveTime} from './harness.mjs';

const SERVER = '10.200.7.10';
const CLIENT = '10.200.7.20';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let server;
let browser;
let page;
let events;

/** A first-write deviation of the polling master: `fn` at `first..last`. */
function firstWrite(n, fn, name, first, last, secs) {
  const at = first === last ? `${first}` : `${first}-${last}`;
  return JSON.stringify({
    timestamp: eveTime(secs), flow_id: 7000 + n, event_type: 'alert',
    src_ip: CLIENT, src_port: 50000 + n, dest_ip: SERVER, dest_port: 502, proto: 'TCP', app_proto: 'modbus',
    alert: {action: 'allowed', gid: 1, signature_id: 150009, rev: 1, signature: 'First write from a client that only read',
      category: 'Baseline deviation', severity: 2,
      metadata: {attack_id: ['T0855'], severity_name: ['high'], protocol: ['baseline']}},
    modbus: {transaction_id: n, unit_id: 1, request: {function_code: fn, function: name, access: 'write', address: first}},
    baseline: {deviation: 'first_write', observed: `write ${name} (${fn}) unit 1 at ${at}`,
      learned: 'read read_holding_registers (3) unit 1 at 0-9, 500-501 only',
      server: SERVER, protocol: 'modbus', port: 502, client: CLIENT, station: 1,
      operation: {class: 'write', function: fn, name, unit: 1, range: [first, last]}},
    alert_id: `ui-dev-${n}`, sensor: SENSOR,
  });
}

/** The write operations of the polling master in the baseline file on disk. */
async function writesInFile() {
  const doc = parse(await readFile(server.baselinePath, 'utf8'));
  const srv = doc.servers.find((x) => x.server === SERVER);
  const cl = srv.clients.find((x) => x.client === CLIENT);
  return cl.operations.filter((o) => o.class === 'write').map((o) => ({function: o.function, ranges: o.ranges}));
}

const rows = () => page.$$eval('tr.deviation-row', (trs) => trs.map((tr) => ({review: tr.dataset.review, text: tr.textContent})));

before(async () => {
  server = await startAnalyzerTestd({baseline: join(ROOT, 'rules/default/baselines/modbus_reads_only.yaml')});
  browser = await launch();
  ({page, events} = await watchedPage(browser.context, server));
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('the Baseline page shows the enforced file, its deviations grouped, and Accept adds one to the file', async () => {
  await login(page, server, '#/baseline');
  assert.equal(await page.getAttribute('#baseline-state', 'data-state'), 'enforcing');
  assert.match(await page.textContent('#baseline-state'), /Enforcing since .*1 servers, 1 client\/server pairs, 12 operations/s);
  assert.match(await page.textContent('main'), /No deviation alerts since/);
  assert.equal(await page.getAttribute('nav a[data-nav="baseline"]', 'aria-current'), 'page');

  const report = await ingest(server, [
    firstWrite(1, 6, 'write_single_register', 10, 10, 1),
    firstWrite(2, 6, 'write_single_register', 11, 11, 2),
    firstWrite(3, 5, HOSTILE, 0, 0, 3),
  ]);
  assert.equal(report.stored, 3, JSON.stringify(report));
  await go(page, server, '#/baseline');
  let shown = await rows();
  assert.equal(shown.length, 2, 'two groups: function 5, then function 6 with its two alerts');
  assert.equal(shown[0].review, 'none');
  assert.ok(shown[0].text.includes(HOSTILE), 'the operation name from the packet is shown as text');
  assert.match(shown[1].text, /first_write.*10\.200\.7\.20 → 10\.200\.7\.10.*write write_single_register \(6\) unit 1.*seen: write write_single_register \(6\) unit 1 at 11.*learned: read read_holding_registers/s);
  assert.equal(await page.$$eval('tr.deviation-row img', (x) => x.length), 0, 'no markup from packets');
  await screenshot(page, 'baseline');

  // The download is the file on disk.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#baseline-download')]);
  assert.equal(download.suggestedFilename(), 'plant.yaml');
  const got = await readFile(await download.path(), 'utf8');
  assert.equal(got, await readFile(server.baselinePath, 'utf8'));

  // Accept the group of function 6: both registers go into the file, which is reloaded.
  assert.deepEqual(await writesInFile(), []);
  await page.click('tr.deviation-row:nth-child(2) button.action-accept');
  await page.waitForSelector('tr.deviation-row:nth-child(2)[data-review="accepted"]');
  assert.match(await page.textContent('tr.deviation-row:nth-child(2) .c-review'), /Accepted into the baseline/);
  assert.deepEqual(await writesInFile(), [{function: 6, ranges: ['10-11']}]);
  const state = await apiGet(server, '/baseline');
  assert.equal(state.summary.operations, 13);
  const accepted = await apiGet(server, '/alerts?q=ui-dev-2');
  assert.equal(accepted.alerts[0].state, 'closed');
  assert.equal(accepted.alerts[0].state_note, 'accepted into the baseline');

  // Keep alerting on the other: the file is left as it is.
  const before = await readFile(server.baselinePath, 'utf8');
  await page.click('tr.deviation-row:nth-child(1) button.action-keep');
  await page.waitForSelector('tr.deviation-row:nth-child(1)[data-review="kept"]');
  assert.equal(await readFile(server.baselinePath, 'utf8'), before);

  // Both reviews are the analyzer's: they survive a reload.
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready === 'baseline');
  shown = await rows();
  assert.deepEqual(shown.map((r) => r.review), ['kept', 'accepted']);
  assert.equal(await page.$$eval('button.action-accept', (x) => x.length), 0);
  await screenshot(page, 'baseline-reviewed');

  assert.equal(await page.evaluate(() => window.__pwned), 0, 'nothing from the packets ran');
  assert.deepEqual(events.dialogs, []);
  assert.deepEqual(events.outside, [], 'no request left the analyzer');
  assert.ok(events.errors.length === 0, events.errors.join('\n'));
});

test('g b goes to the Baseline page', async () => {
  await go(page, server, '#/overview');
  await page.keyboard.press('g');
  await page.keyboard.press('b');
  await page.waitForFunction(() => document.body.dataset.ready === 'baseline' && document.querySelector('#baseline-state'));
});

test('without a baseline the page says how to enable one and offers no Accept', async () => {
  const plain = await startAnalyzerTestd();
  const p = await browser.context.newPage();
  try {
    await login(p, plain, '#/baseline');
    assert.equal(await p.getAttribute('#baseline-state', 'data-state'), 'none');
    const text = await p.textContent('#baseline-state');
    assert.match(text, /otwatch learn/);
    assert.match(text, /--baseline/);
    assert.equal(await p.$('#baseline-download'), null);
    await ingest(plain, [firstWrite(9, 6, 'write_single_register', 10, 10, 1)]);
    await go(p, plain, '#/baseline');
    assert.equal(await p.$$eval('tr.deviation-row', (x) => x.length), 1, 'a separate sensor\'s deviations are listed');
    assert.equal(await p.$eval('button.action-accept', (b) => b.disabled), true);
  } finally {
    await p.close();
    await plain.stop();
  }
});
