// What the page remembers between views: the analyst name that signs state
// changes (kept in the browser), the list to go back to, the alert last
// opened from it, and whether a login link came back refused.

export const state = {
  loginFailed: false,
  analyst: localStorage.getItem('otwatch.analyst') || 'analyst',
  lastList: '#/alerts',
  lastOpened: null,
};

/** Sets the analyst name (at most 128 characters) and keeps it in the browser. */
export function setAnalyst(name) {
  state.analyst = String(name).trim().slice(0, 128) || 'analyst';
  localStorage.setItem('otwatch.analyst', state.analyst);
}
