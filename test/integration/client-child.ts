/**
 * A second process for the client integration tests: an auth-aware fetch on a shared file store,
 * with NO interaction (it can never log in), calling the `echo` tool through the SDK's client.
 * Prints `ready` and waits for a line on stdin when asked to, so several start together; then
 * prints one JSON line: what echo returned, how many refreshes it did, and a hash of the last
 * token it sent.
 * Exits 1 with `<code>: <message>` on stderr when anything fails.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { createFileStore } from '../../src/store/file.js';

interface ChildArgs {
  dir: string;
  serverUrl: string;
  text: string;
  waitForGo?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const store = await createFileStore({ dir: args.dir });
try {
  // Remembers the last bearer token this process actually sent to the MCP server.
  let sent: string | undefined;
  const recording: typeof fetch = (input, init) => {
    const authorization = new Headers(init?.headers).get('authorization');
    if (authorization?.startsWith('Bearer ')) sent = authorization.slice('Bearer '.length);
    return fetch(input, init);
  };
  const authFetch = createAuthFetch({ serverUrl: args.serverUrl, store, fetch: recording });
  let refreshed = 0;
  authFetch.events.addEventListener('token_refreshed', () => refreshed++);
  if (args.waitForGo) {
    const lines = createInterface({ input: process.stdin });
    process.stdout.write('ready\n');
    await once(lines, 'line');
    lines.close();
  }
  const client = new Client({ name: 'portcullis-child', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(args.serverUrl), { fetch: authFetch }));
  const result = await client.callTool({ name: 'echo', arguments: { text: args.text } });
  await client.close();
  process.stdout.write(
    `${JSON.stringify({
      echoed: (result.content as Array<{ text: string }>)[0]?.text,
      refreshed,
      sentTokenHash: sent && createHash('sha256').update(sent).digest('hex'),
    })}\n`,
  );
} catch (error) {
  const e = error as { code?: string; message?: string };
  process.stderr.write(`${e.code ?? 'error'}: ${e.message ?? String(error)}\n`);
  process.exitCode = 1;
} finally {
  await store.close();
}
