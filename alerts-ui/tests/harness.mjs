// Test harness of the UI browser tests: starts an analyzer with the embedded
// UI on a free port, feeds it the EVE lines otwatch makes from a capture, and
// drives Debian's Chromium with playwright-core (no browser download).
//
// Credentials as a user has them: the API token the server made at its first
// start (the login link `otwatch run` prints, or the data directory's
// api-token file), the ingest token for feeding. Pages log in by opening the
// login link (`go`, `login`).
//
// Switching to `otwatch run` once it exists is one line: `startServer` below.

import {spawn, execFile} from 'node:child_process';
import {mkdtemp, mkdir, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {existsSync} from 'node:fs';
import {createServer} from 'node:net';
import http from 'node:http';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseDocument} from 'yaml';
import {chromium} from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = join(ROOT, 'alerts-ui/tests/screenshots');
const BIN = process.env.OTWATCH_BIN_DIR || join(ROOT, 'target/release');
const TOKEN = 'ui-test-token';
export const SENSOR = 'ui-test-sensor';

/** An EVE timestamp `secs` from now (microseconds, `+0000`). */
export function eveTime(secs) {
  return new Date(Date.now() + secs * 1000).toISOString().replace('Z', '+0000').replace(/\.(\d{3})/, '.$1000');
}

/** The server the tests use. To test `otwatch run`: `= startOtwatchRun`. */
export const startServer = startOtwatchRun;

/** Waits for `re` on the child's stdout (or stderr with `from: 'stderr'`). */
function waitForLine(child, re, ms, {from = 'stdout'} = {}) {
  return new Promise((res, rej) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`no ${re} within ${ms} ms; stderr: ${err}`)), ms);
    const look = () => {
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    };
    child.stdout.on('data', (d) => {
      if (from === 'stdout') buf += d;
      look();
    });
    child.stderr.on('data', (d) => {
      err += d;
      if (from === 'stderr') buf += d;
      look();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited (${code}) before it listened: ${err}`));
    });
  });
}

function stopper(child, dir) {
  return async () => {
    if (child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    }
    await rm(dir, {recursive: true, force: true});
  };
}

/**
 * The analyzer test daemon with the UI (analyzer/src/bin/analyzer-testd.rs --ui).
 * With `baseline` (a baseline file), a copy of it in the server's folder is
 * the baseline under review, enforced from the start (`--baseline`); its path
 * is the server's `baselinePath`.
 */
export async function startAnalyzerTestd({baseline} = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'otwatch-ui-'));
  const baselinePath = baseline ? join(dir, 'plant.yaml') : null;
  if (baseline) await writeFile(baselinePath, await readFile(baseline));
  const config = join(dir, 'analyzer.yaml');
  await writeFile(config, [
    'listen: 127.0.0.1:0',
    `data_dir: ${JSON.stringify(join(dir, 'data'))}`,
    `ingest_tokens: [${TOKEN}]`,
    '',
  ].join('\n'));
  const bin = join(BIN, 'analyzer-testd');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build --release -p otwatch-analyzer first`);
  const env = {...process.env};
  delete env.OTWATCH_API_TOKEN;
  const args = ['--ui', ...(baseline ? ['--baseline', baselinePath] : []), config];
  const child = spawn(bin, args, {stdio: ['ignore', 'pipe', 'pipe'], env});
  const m = await waitForLine(child, /listening (\S+)/, 15000);
  // No api_token in the config: the analyzer made one in its data directory.
  const apiToken = (await readFile(join(dir, 'data', 'api-token'), 'utf8')).trim();
  const server = {url: `http://${m[1]}`, token: TOKEN, apiToken, baselinePath, stop: stopper(child, dir)};
  await putRules(server, join(ROOT, 'rules/default'));
  return process.env.OTWATCH_UI_FROM_DISK ? fromDisk(server) : server;
}

// The policy analyzer/src/ui.rs sends with every UI file.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES = {html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml'};

/**
 * For working on the UI without rebuilding the analyzer
 * (OTWATCH_UI_FROM_DISK=1): serves alerts-ui/ from disk and passes /api,
 * /healthz and /metrics to the analyzer.
 */
async function fromDisk(server) {
  const target = new URL(server.url);
  const proxy = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const path = u.pathname;
    // The login link (/?token=…) is the analyzer's to answer, too.
    if (/^\/(api(\/|$)|healthz$|metrics$)/.test(path) || (path === '/' && u.searchParams.has('token'))) {
      const up = http.request({host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers}, (r) => {
        res.writeHead(r.statusCode, r.headers);
        res.flushHeaders();
        r.pipe(res);
      });
      req.pipe(up);
      up.on('error', () => res.destroy());
      return;
    }
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (!/^([a-z]+\/)?[a-z]+\.(html|js|css|svg)$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(ROOT, 'alerts-ui', name));
      res.writeHead(200, {'Content-Type': TYPES[name.split('.').pop()], 'Cache-Control': 'no-cache',
        'Content-Security-Policy': CSP}).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const stop = server.stop;
  return {...server, url: `http://127.0.0.1:${proxy.address().port}`, api: server.url,
    stop: async () => { proxy.closeAllConnections(); proxy.close(); await stop(); }};
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/**
 * `otwatch run` (analyzer + sensor in one process) on a free port, as a user
 * starts it: the API token is the one it made, read from the login link it
 * prints on stderr; `feed` posts captures to its ingest with OTWATCH_TOKEN.
 */
export async function startOtwatchRun() {
  const dir = await mkdtemp(join(tmpdir(), 'otwatch-ui-'));
  const port = await freePort();
  const env = {...process.env, OTWATCH_TOKEN: TOKEN};
  delete env.OTWATCH_API_TOKEN;
  const child = spawn(join(BIN, 'otwatch'), ['run', '--listen', `127.0.0.1:${port}`, '--data', join(dir, 'data'), '--pcap', '/dev/null'],
    {stdio: ['ignore', 'pipe', 'pipe'], env});
  const url = `http://127.0.0.1:${port}`;
  const m = await waitForLine(child, /serving (http:\/\/\S+)\/\?token=([0-9a-f]{64})/, 15000, {from: 'stderr'});
  if (m[1] !== url) throw new Error(`otwatch run serves ${m[1]}, not ${url}`);
  const server = {url, token: TOKEN, apiToken: m[2], loginLink: `${url}/?token=${m[2]}`, stop: stopper(child, dir)};
  return process.env.OTWATCH_UI_FROM_DISK ? fromDisk(server) : server;
}

/** The rules of a folder as the analyzer lists them (id, name, …, YAML source). */
export async function ruleInfos(folder) {
  const out = [];
  for (const name of (await readdir(folder)).filter((n) => n.endsWith('.yaml')).sort()) {
    const src = await readFile(join(folder, name), 'utf8');
    const doc = parseDocument(src);
    const rules = doc.get('rules', true);
    if (!rules || !rules.items) continue;
    for (const node of rules.items) {
      const r = node.toJSON();
      const [start, , end] = node.range;
      // The rule's own lines, from its `- ` to its last line.
      const lineStart = src.lastIndexOf('\n', start) + 1;
      const lines = src.slice(lineStart, end).replace(/\s+$/, '').split('\n');
      const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length));
      const yamlText = `${lines.map((l) => l.slice(indent)).join('\n')}\n`;
      out.push({
        id: r.id, rev: r.rev || 0, name: r.name, severity: r.severity, protocol: r.protocol,
        description: (r.description || '').trim(), attack: r.attack || [], yaml: yamlText,
      });
    }
  }
  return out;
}

export async function putRules(server, folder) {
  const r = await fetch(`${server.url}/api/v1/rules`, {
    method: 'PUT',
    headers: {Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json'},
    body: JSON.stringify(await ruleInfos(folder)),
  });
  if (!r.ok) throw new Error(`PUT rules: ${r.status} ${await r.text()}`);
}

/** EVE lines of a capture (alerts, assets, stats), named as one sensor. */
export async function eveLines(pcap) {
  const out = await new Promise((res, rej) => {
    execFile(join(BIN, 'otwatch'), ['replay', '--eve', '-', '--events', 'alert,asset,stats', '--rules', join(ROOT, 'rules/default'), join(ROOT, pcap)],
      {maxBuffer: 64 << 20}, (err, stdout, stderr) => (err ? rej(new Error(`${err.message}\n${stderr}`)) : res(stdout)));
  });
  return out.split('\n').filter(Boolean).map((l) => {
    const v = JSON.parse(l);
    if (!v.sensor) v.sensor = SENSOR;
    return JSON.stringify(v);
  });
}

/** Posts EVE lines to the ingest endpoint; returns the analyzer's report. */
export async function ingest(server, lines) {
  const r = await fetch(`${server.url}/api/v1/ingest`, {
    method: 'POST',
    headers: {Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/x-ndjson'},
    body: `${lines.join('\n')}\n`,
  });
  const body = await r.text();
  if (!r.ok) throw new Error(`ingest: ${r.status} ${body}`);
  return JSON.parse(body);
}

/** Replays a capture into the server. */
export async function feed(server, pcap) {
  const lines = await eveLines(pcap);
  const report = await ingest(server, lines);
  return {lines, report};
}

/** GET from the API with the API token as a bearer token. */
export async function apiGet(server, path) {
  const r = await fetch(`${server.url}/api/v1${path}`, {headers: {Authorization: `Bearer ${server.apiToken}`}});
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r.json();
}

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
  '--no-default-browser-check', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-default-apps',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1',
];

/** Debian's Chromium, kept off the network, with a fresh profile. */
export async function launch() {
  const exe = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(exe)) throw new Error(`${exe} is missing: apt-get install -y chromium`);
  const profile = await mkdtemp(join(tmpdir(), 'otwatch-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: FLAGS,
    viewport: {width: 1280, height: 800},
    timezoneId: 'UTC',
    locale: 'en-US',
  });
  ctx.setDefaultTimeout(10000);
  return {
    context: ctx,
    async close() {
      await ctx.close();
      await rm(profile, {recursive: true, force: true});
    },
  };
}

/**
 * A page that records what must never happen: dialogs, a script setting
 * `window.__pwned`, console errors and page errors, requests leaving the server.
 */
export async function watchedPage(context, server) {
  const page = await context.newPage();
  const events = {dialogs: [], errors: [], outside: []};
  page.on('dialog', async (d) => {
    events.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('pageerror', (e) => events.errors.push(String(e)));
  // A 404 is an answer the UI handles (an IP that is not an asset); Chromium
  // still logs it as a failed resource: those are not errors of the page.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 404/.test(m.text())) events.errors.push(m.text());
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(server.url) && !u.startsWith('data:')) events.outside.push(u);
  });
  await page.addInitScript(() => {
    window.__pwned = 0;
    const trap = () => { window.__pwned += 1; };
    window.alert = trap;
    window.confirm = trap;
    window.prompt = trap;
  });
  return {page, events};
}

export async function screenshot(page, name) {
  await mkdir(SHOTS, {recursive: true});
  await page.screenshot({path: join(SHOTS, `${name}.png`), fullPage: true});
}

/**
 * Logs `page` in by opening the login link with `hash` (`#/alerts`): the
 * server sets the session cookie and redirects to `/`, the browser keeps the
 * hash; waits until the view is drawn.
 */
export async function login(page, server, hash = '#/overview') {
  await page.goto(`${server.url}/?token=${server.apiToken}${hash}`);
  await page.waitForFunction(() => document.body.dataset.ready);
}

/** Navigates inside the single page and waits until the view is drawn. */
export async function go(page, server, hash) {
  const target = `${server.url}/${hash}`;
  if (page.url() === target) {
    await page.reload();
  } else if (page.url().startsWith(`${server.url}/`)) {
    await page.evaluate((h) => {
      delete document.body.dataset.ready;
      location.hash = h;
    }, hash);
  } else {
    await login(page, server, hash);
    return;
  }
  await page.waitForFunction(() => document.body.dataset.ready);
}
