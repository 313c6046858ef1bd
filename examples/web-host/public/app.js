// The web host's page: plain JS, no framework, no build step. It lists the signed-in user's MCP
// servers and drives the popup login: one message listener for the page's lifetime, the popup's
// window reference kept, and one interval watching `popup.closed` that every outcome clears.

const LABELS = {
  'not-added': 'not added',
  disconnected: 'not connected',
  'needs-login': 'login needed',
  connected: 'connected',
  'reauth-required': 'login expired',
  error: 'error',
};

const state = {
  csrfToken: null,
  /** The login window this page opened; messages from any other window are ignored. */
  popup: null,
  /** The one interval watching `popup.closed`. */
  watch: null,
  /** Last tool result per server, kept across re-renders. */
  results: new Map(),
};

const $ = (id) => document.getElementById(id);

function notice(text) {
  $('notice').textContent = text;
}

async function api(path, body) {
  const init = { method: body === undefined ? 'GET' : 'POST', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    if (state.csrfToken) init.headers['x-csrf-token'] = state.csrfToken;
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error?.message ?? `HTTP ${response.status}`);
    error.code = data.error?.code;
    throw error;
  }
  return data;
}

function button(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', () => onClick().catch((error) => notice(error.message)));
  return b;
}

function render(servers) {
  const rows = servers.map((server) => {
    const row = document.createElement('tr');
    row.dataset.server = server.id;
    row.dataset.status = server.status;

    const name = document.createElement('td');
    const strong = document.createElement('strong');
    strong.textContent = server.name;
    const url = document.createElement('code');
    url.textContent = server.url;
    name.append(strong, document.createElement('br'), url);

    const status = document.createElement('td');
    const label = document.createElement('span');
    label.className = 'status';
    label.textContent = LABELS[server.status] ?? server.status;
    status.append(label);
    if (server.error) {
      const why = document.createElement('div');
      why.className = 'error';
      // The manager's message is written for developers; a person needs to know what to press.
      why.textContent =
        server.status === 'reauth-required'
          ? 'The server no longer accepts your login (it expired or was revoked). Reconnect to log in again.'
          : server.error.message;
      status.append(why);
    }

    const actions = document.createElement('td');
    if (server.status === 'not-added') {
      actions.append(button('Add', () => add(server.id)));
    } else {
      if (server.status !== 'connected') {
        const again = server.status === 'reauth-required' ? 'Reconnect' : 'Connect';
        actions.append(button(again, async () => openLogin(server.id)));
      }
      actions.append(button('Call echo', () => callEcho(server.id)));
      actions.append(button('Remove', () => remove(server.id)));
      const result = document.createElement('output');
      result.className = 'result';
      result.textContent = state.results.get(server.id) ?? '';
      actions.append(result);
    }
    row.append(name, status, actions);
    return row;
  });
  $('rows').replaceChildren(...rows);
  $('servers').hidden = false;
}

async function refresh() {
  render((await api('/api/servers')).servers);
}

async function add(serverId) {
  render((await api(`/api/servers/${serverId}/add`, {})).servers);
}

async function callEcho(serverId) {
  const text = `hello from ${$('user').textContent}`;
  try {
    const { result } = await api(`/api/servers/${serverId}/call`, { tool: 'echo', arguments: { text } });
    const first = result.content?.[0];
    state.results.set(serverId, `echo → ${first?.type === 'text' ? first.text : JSON.stringify(result)}`);
    notice('');
    await refresh();
  } catch (error) {
    state.results.delete(serverId);
    notice(
      error.code === 'reauth_required'
        ? `Your login to ${serverId} expired or was revoked: press Reconnect.`
        : `Calling echo failed: ${error.message}`,
    );
    // A refused refresh shows up in the list as "login expired" with a Reconnect button.
    await refresh();
  }
}

async function remove(serverId) {
  const { revocation, servers } = await api(`/api/servers/${serverId}/remove`, {});
  state.results.delete(serverId);
  notice(`Removed ${serverId}; token revocation: ${revocation.status}.`);
  render(servers);
}

function stopWatching() {
  clearInterval(state.watch);
  state.watch = null;
  state.popup = null;
}

function openLogin(serverId) {
  stopWatching();
  // A named window: a second click re-uses it, so there is never more than one popup to track.
  const popup = window.open(
    `/connect?server=${encodeURIComponent(serverId)}`,
    'portcullis-login',
    'popup,width=520,height=720',
  );
  if (!popup) {
    notice('Your browser blocked the login window; allow popups for this site and try again.');
    return;
  }
  state.popup = popup;
  notice(`Logging in to ${serverId} in the popup window…`);
  // The only way to learn that a person closed the popup without finishing; no network involved.
  state.watch = setInterval(() => {
    if (!popup.closed) return;
    stopWatching();
    notice('The login window was closed.');
    refresh().catch((error) => notice(error.message));
  }, 500);
}

window.addEventListener('message', (event) => {
  // The callback page is on our own origin and posts with it as the exact target; anything else —
  // another site, another window, even one of ours — is not the answer to the login we started.
  if (event.origin !== window.location.origin) {
    console.warn(`web-host: ignored a message from another origin (${event.origin})`);
    return;
  }
  if (state.popup === null || event.source !== state.popup) {
    console.warn('web-host: ignored a message from a window that is not our login popup');
    return;
  }
  const data = event.data;
  if (typeof data !== 'object' || data === null || typeof data.type !== 'string') return;
  if (data.type === 'portcullis:connected') {
    notice(`Connected to ${data.serverId}.`);
    state.popup.close(); // this page owns the popup's lifetime: no race with the "closed" watch
  } else if (data.type === 'portcullis:failed') notice(`Login failed: ${data.message}`);
  else return;
  stopWatching();
  refresh().catch((error) => notice(error.message));
});

function showSignedIn(user, csrfToken) {
  state.csrfToken = csrfToken;
  $('user').textContent = user;
  $('who').hidden = false;
  $('sign-in').hidden = true;
}

$('sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  const user = new FormData(event.target).get('user');
  api('/api/session', { user })
    .then(({ user, csrfToken }) => {
      showSignedIn(user, csrfToken);
      return refresh();
    })
    .catch((error) => notice(error.message));
});

$('sign-out').addEventListener('click', () => {
  api('/api/session/end', {})
    .then(() => window.location.reload())
    .catch((error) => notice(error.message));
});

const session = await api('/api/session');
if (session.user) {
  showSignedIn(session.user, session.csrfToken);
  await refresh();
} else {
  $('sign-in').hidden = false;
}
