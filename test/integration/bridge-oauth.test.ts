/**
 * `portcullis connect` with OAuth, all real: the SDK's Client over stdio → the CLI's connect
 * (spawned as a host would) → a real SDK MCP server protected by a real oidc-provider. The
 * "browser" is the fixture HTTP user agent, run by the CLI as $BROWSER.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createEncryptedStore } from '../../src/store/encrypted.js';
import { parseEncryptionKey } from '../../src/store/encryption-key.js';
import { createFileStore } from '../../src/store/file.js';
import { REPO } from '../bridge/harness.js';
import { recordAuthorizationRequests, startServers, storedTokens, tempDir } from './client-helpers.js';

const BROWSER = `${process.execPath} --import tsx ${path.join(REPO, 'test/cli/fake-browser.ts')}`;

async function bridgeHost(url: string, home: string, key: string) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli/main-entry.ts', 'connect', url],
    cwd: REPO,
    stderr: 'pipe',
    env: { ...(process.env as Record<string, string>), PORTCULLIS_HOME: home, PORTCULLIS_KEY: key, BROWSER },
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const client = new Client({ name: 'bridge-oauth-test', version: '1.0.0' });
  await client.connect(transport);
  onTestFinished(() => client.close());
  return { client, stderr: () => stderr };
}

async function echo(client: Client, text: string): Promise<string> {
  const result = (await client.callTool({ name: 'echo', arguments: { text } })) as {
    content: Array<{ text: string }>;
  };
  return result.content[0]!.text;
}

/** The CLI's store, opened beside the bridge with the same key. */
async function cliStore(home: string, key: string) {
  const store = createEncryptedStore(await createFileStore({ dir: path.join(home, 'store') }), {
    key: parseEncryptionKey(key, 'PORTCULLIS_KEY'),
  });
  onTestFinished(() => store.close());
  return store;
}

describe('portcullis connect with OAuth', () => {
  it('logs in at start through the browser, then serves tools/list and tools/call', async () => {
    const { as, mcp } = await startServers();
    const home = await tempDir();
    const key = randomBytes(32).toString('base64url');
    const host = await bridgeHost(mcp.url, home, key);
    const { tools } = await host.client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo');
    expect(await echo(host.client, 'through the bridge')).toBe('through the bridge');
    expect(as.requests.count('/auth')).toBe(1);
    expect(mcp.lastAuthorization).toMatch(/^Bearer /);
  }, 60_000);

  it('refreshes an access token that expires mid-session; the host call succeeds', async () => {
    // The MCP server's clock runs ahead: the first token (5 min) expires there, while tokens the
    // AS issues after the switch to 1 h stay good. The bridge learns it from the 401, as in life.
    let aheadMs = 0;
    const { as, mcp } = await startServers({ mcp: { now: () => new Date(Date.now() + aheadMs) } });
    const home = await tempDir();
    const key = randomBytes(32).toString('base64url');
    const host = await bridgeHost(mcp.url, home, key);
    expect(await echo(host.client, 'first')).toBe('first');
    const store = await cliStore(home, key);
    const before = await storedTokens(store, mcp.url);
    as.settings.accessTokenTtlSeconds = 3600;
    aheadMs = 10 * 60_000;
    expect(await echo(host.client, 'after expiry')).toBe('after expiry');
    expect(as.requests.grants('refresh_token')).toBe(1);
    expect((await storedTokens(store, mcp.url)).accessToken).not.toBe(before.accessToken);
  }, 60_000);

  it('three bridges started at once on an empty store make exactly one authorization request', async () => {
    const { as, mcp } = await startServers();
    const authorizations = recordAuthorizationRequests(as);
    const home = await tempDir();
    const key = randomBytes(32).toString('base64url');
    const hosts = await Promise.all([1, 2, 3].map(() => bridgeHost(mcp.url, home, key)));
    const answers = await Promise.all(hosts.map((h, i) => echo(h.client, `bridge ${i}`)));
    expect(answers).toEqual(['bridge 0', 'bridge 1', 'bridge 2']);
    expect(authorizations).toHaveLength(1);
    expect(as.registeredClients().size).toBe(1);
  }, 90_000);
});
