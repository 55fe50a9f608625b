// Logging in and out. Credentials are the analyzer's session cookie, set by
// opening the login link /?token=… or by the form below; the page itself
// never keeps the token.

import {h, replace} from './dom.js';
import {postLogin, postLogout} from './api.js';
import {$, main, heading, showLoggedIn} from './page.js';
import {state} from './state.js';
import {render, stopView} from './router.js';

/** The login form, in place of the view: posts the API token, gets the cookie. */
export function needLogin() {
  showLoggedIn(false);
  if ($('#login-form')) return;
  const root = main();
  const input = h('input', {type: 'password', id: 'login-token', autocomplete: 'current-password', required: true, spellcheck: 'false'});
  const msg = h('p', {id: 'login-error', class: 'error', role: 'alert', hidden: true});
  const fail = (text) => {
    msg.textContent = text;
    msg.hidden = false;
    input.select();
  };
  if (state.loginFailed) {
    state.loginFailed = false;
    fail('That login link has a wrong token.');
  }
  const submit = async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    let r;
    try {
      r = await postLogin(token);
    } catch (e) {
      fail(`The analyzer did not answer: ${e.message}`);
      return;
    }
    input.value = '';
    if (r.ok) {
      showLoggedIn(true);
      render();
    } else if (r.status === 401) {
      fail('That is not the API token.');
    } else {
      let err = `${r.status} ${r.statusText}`;
      try { err = (await r.json()).error || err; } catch { /* not JSON */ }
      fail(err);
    }
  };
  replace(root, heading('Log in'),
    h('form', {id: 'login-form', class: 'card', on: {submit}},
      h('p', 'Open the login link that otwatch prints when it starts (',
        h('code', 'http://HOST:PORT/?token=…'), '), or paste the API token: ', h('code', 'api_token'),
        ' of the configuration, ', h('code', 'OTWATCH_API_TOKEN'), ', or the file ', h('code', 'api-token'),
        ' in the data directory.'),
      h('label', {for: 'login-token', class: 'field'}, h('span', {class: 'field-label'}, 'API token'), input),
      msg,
      h('button', {type: 'submit', class: 'action'}, 'Log in')));
  document.body.dataset.ready = 'login';
  input.focus();
}

/** Ends the session: the view stops, the login form comes. */
export async function logout() {
  await postLogout();
  stopView();
  needLogin();
}

/**
 * The login link's query (?token=…) never stays in the address bar or the
 * history: the analyzer answers it with a redirect to /, and should the page
 * still see one (a wrong token comes back as ?login=failed), it is dropped
 * here, keeping the #/route.
 */
export function dropLoginQuery() {
  const q = new URLSearchParams(location.search);
  if (!q.has('token') && !q.has('login')) return;
  state.loginFailed = q.get('login') === 'failed';
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
}
