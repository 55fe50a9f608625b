// The live stream: /api/v1/stream (server-sent events) read with fetch
// rather than EventSource, so that Last-Event-ID can be sent on reconnect and
// a 401 told apart from a network failure.

import {API, HttpError, headers, sessionEnded} from './api.js';
import {liveStatus, toast} from './page.js';

/**
 * Takes the complete events (blocks ended by a blank line) off the front of
 * `buf`: returns them as {event, id, data} (data lines joined by "\n") and
 * the rest of the buffer, an event not yet complete.
 */
export function takeEvents(buf) {
  const events = [];
  let m;
  while ((m = /\r?\n\r?\n/.exec(buf))) {
    const block = buf.slice(0, m.index);
    buf = buf.slice(m.index + m[0].length);
    let event = 'message';
    let id = null;
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const k = i < 0 ? line : line.slice(0, i);
      const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (k === 'event') event = v;
      else if (k === 'id') id = v;
      else if (k === 'data') data.push(v);
    }
    events.push({event, id, data: data.length ? data.join('\n') : null});
  }
  return {events, rest: buf};
}

/**
 * Opens the stream of the alerts matching `query`: calls onAlert(summary) per
 * alert, reconnects (1 s, doubling up to 15 s) from the last event id so that
 * nothing stored meanwhile is missed; stops at a 401 (the session ended) and
 * shows the login form. Returns the function that closes it.
 */
export function openStream(query, {onAlert, after}) {
  let stopped = false;
  let ctl = null;
  let lastId = after || null;
  let retry = 1000;
  const dispatch = ({event, id, data}) => {
    if (id) lastId = id;
    if (event === 'alert' && data !== null) {
      try {
        onAlert(JSON.parse(data));
      } catch (e) {
        console.warn('bad stream event', e);
      }
    } else if (event === 'skipped') {
      toast('The live list fell behind; reload to see every alert.');
    }
  };
  const run = async () => {
    while (!stopped) {
      ctl = new AbortController();
      try {
        const hd = headers({Accept: 'text/event-stream'});
        if (lastId) hd['Last-Event-ID'] = lastId;
        const r = await fetch(`${API}/stream${query ? `?${query}` : ''}`, {headers: hd, signal: ctl.signal, cache: 'no-store', credentials: 'same-origin'});
        if (r.status === 401) {
          stopped = true;
          liveStatus('off');
          sessionEnded();
          return;
        }
        if (!r.ok || !r.body) throw new HttpError(r.status, 'stream refused');
        liveStatus('live');
        retry = 1000;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          const {events, rest} = takeEvents(buf + value);
          buf = rest;
          events.forEach(dispatch);
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      liveStatus('reconnecting');
      await new Promise((res) => setTimeout(res, retry));
      retry = Math.min(retry * 2, 15000);
    }
  };
  run();
  return () => {
    stopped = true;
    if (ctl) ctl.abort();
    liveStatus('off');
  };
}
