// otwatch alerts UI: a single page over the analyzer's /api/v1 (see
// README.md for the module map). This entry module wires the header, the
// keyboard and the router, and says what a refused request does: show the
// login form.
//
// Every string from the API is put on the page as text (see dom.js).

import {onAuth} from './api.js';
import {$, main, showLoggedIn} from './page.js';
import {state, setAnalyst} from './state.js';
import {render} from './router.js';
import {needLogin, logout, dropLoginQuery} from './login.js';
import {onKey} from './keys.js';

function start() {
  onAuth({unauthorized: needLogin, authorized: () => showLoggedIn(true)});
  const who = $('#analyst');
  who.value = state.analyst;
  who.addEventListener('change', () => setAnalyst(who.value));
  $('#help-btn').addEventListener('click', () => $('#help').showModal());
  $('#logout-btn').addEventListener('click', logout);
  $('#help-close').addEventListener('click', () => $('#help').close());
  $('#skip').addEventListener('click', (ev) => { ev.preventDefault(); main().focus(); });
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', render);
  dropLoginQuery();
  if (!location.hash) history.replaceState(null, '', `${location.pathname}#/overview`);
  render();
}

start();
