/**
 * A minimal terminal MCP host on portcullis's connection manager. Everything the user sees about
 * logging in comes from the manager's events: the login URL, a spinner while the browser is out,
 * Esc (or Ctrl-C) to cancel, and a note when a token is refreshed or a session re-initialized.
 *
 *   node --import tsx examples/terminal-host/index.ts <mcp-url> [tool] [json-arguments]
 *
 * Lists the server's tools, then calls `tool` when given. State (registration, tokens) is kept
 * under $PORTCULLIS_HOME/terminal-host, so a second run needs no login.
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import { isClientError } from '../../src/client/errors.js';
import { createLoopbackInteraction } from '../../src/client/loopback.js';
import { createConnectionManager } from '../../src/client/manager.js';
import { createFileStore, defaultStateDir } from '../../src/store/file.js';

const [serverUrl, toolName, rawArguments] = process.argv.slice(2);
if (!serverUrl) {
  console.error('usage: node --import tsx examples/terminal-host/index.ts <mcp-url> [tool] [json-arguments]');
  process.exit(2);
}

const err = process.stderr;
const tty = err.isTTY === true;
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[22m` : s);
const green = (s: string) => (tty ? `\x1b[32m${s}\x1b[39m` : s);

/** A one-line spinner on stderr (static text when stderr is not a terminal). */
function spinner(text: string) {
  if (!tty) {
    err.write(`${text}\n`);
    return { stop() {} };
  }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const timer = setInterval(() => err.write(`\r${frames[i++ % frames.length]} ${text}`), 80);
  return {
    stop() {
      clearInterval(timer);
      err.write('\r\x1b[2K');
    },
  };
}

/** Calls `onCancel` on Esc or Ctrl-C while a login is pending; raw mode only on a terminal. */
function listenForCancel(onCancel: () => void) {
  const stdin = process.stdin;
  const onData = (chunk: Buffer) => {
    if (chunk.includes(0x1b) || chunk.includes(0x03)) onCancel();
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData).resume();
  return () => {
    stdin.off('data', onData);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
  };
}

const store = await createFileStore({ dir: path.join(defaultStateDir(), 'terminal-host') });
const manager = createConnectionManager({
  store,
  clientInfo: { name: 'portcullis-terminal-host', version: '1.0.0' },
  // The loopback interaction opens the browser ($BROWSER honoured); the URL is shown by the event below.
  interactionFor: () => createLoopbackInteraction({ openBrowser: !process.env['NO_BROWSER'] }),
});
const key = { userId: userInfo().username, serverId: serverUrl };

let waiting: { stop(): void } | undefined;
let stopListening: (() => void) | undefined;
const endWaiting = () => {
  waiting?.stop();
  stopListening?.();
  waiting = undefined;
  stopListening = undefined;
};

manager.events.on('authorization_required', ({ url }) => {
  err.write(`\nLog in to ${serverUrl} in your browser:\n\n  ${url}\n\n`);
  waiting = spinner('Waiting for you to log in… (Esc to cancel)');
  stopListening = listenForCancel(() => manager.cancelLogin(key));
});
manager.events.on('authorized', ({ issuer }) => {
  endWaiting();
  err.write(`${green('✓')} Logged in${issuer ? ` at ${issuer}` : ''}\n`);
});
manager.events.on('token_refreshed', () => err.write(dim('access token refreshed\n')));
manager.events.on('reauth_required', ({ reason }) =>
  err.write(`Your login expired (${reason}); log in again.\n`),
);
manager.events.on('session_reinitialized', () =>
  err.write(dim('the server restarted the session; reconnected\n')),
);

let exitCode = 0;
try {
  await manager.addServer({ ...key, url: serverUrl });
  const tools = await manager.listTools(key);
  console.log(`${tools.length} tool(s) on ${serverUrl}:`);
  for (const tool of tools) console.log(`  ${tool.name}${tool.description ? ` — ${tool.description}` : ''}`);
  if (toolName) {
    const args = rawArguments ? (JSON.parse(rawArguments) as Record<string, unknown>) : {};
    const result = await manager.callTool(key, toolName, args);
    for (const part of result.content)
      console.log(part['type'] === 'text' ? String(part['text']) : JSON.stringify(part));
    if (result.isError) exitCode = 1;
  }
} catch (error) {
  endWaiting();
  exitCode = 1;
  if (isClientError(error, 'aborted')) err.write('Login cancelled.\n');
  else err.write(`Failed: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  await manager.closeAll();
  await store.close();
}
process.exit(exitCode);
