// The portcullis CLI → the gateway → a real oidc-provider → the stdio fixture MCP server, each
// CLI command a spawned process (from source, through tsx) with its own PORTCULLIS_HOME, and
// test/cli/fake-browser.ts as $BROWSER: it approves the gateway's consent page and signs in at
// the IdP. `logout` must reach the gateway's /revoke, after which the CLI's tokens are dead.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readServerState } from '../../src/client/state.js';
import { createStdioUpstream } from '../../src/gateway/mcp/stdio-upstream.js';
import { createEncryptedStore } from '../../src/store/encrypted.js';
import { loadEncryptionKey } from '../../src/store/encryption-key.js';
import { createFileStore } from '../../src/store/file.js';
import { stdioServerCommand } from '../fixtures/mcp-tools.js';
import { ALICE, mcpWithToken, postForm, type Stack, startStack } from './gateway-e2e-stack.js';

const ENTRY = fileURLToPath(new URL('../../src/cli/main-entry.ts', import.meta.url));
const FAKE_BROWSER = fileURLToPath(new URL('../cli/fake-browser.ts', import.meta.url));

let stack: Stack<'gateway'>;
let home: string;

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'portcullis-e2e-cli-'));
  stack = await startStack({
    gateway: {
      mcpEndpoint: () =>
        createStdioUpstream({
          command: [stdioServerCommand.command, ...stdioServerCommand.args],
          env: { MCP_USER: '{{user.id}}' },
        }),
    },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('PORTCULLIS_')),
  );
  Object.assign(env, {
    PORTCULLIS_HOME: home,
    BROWSER: `${process.execPath} --import tsx ${FAKE_BROWSER}`,
    FAKE_BROWSER_LOGIN: ALICE.login,
    FAKE_BROWSER_PASSWORD: ALICE.password,
    FAKE_BROWSER_LOG: path.join(home, 'browser.log'),
    NO_COLOR: '1',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The CLI's own stored tokens for `serverUrl`, read as the CLI reads them. */
async function storedTokens(serverUrl: string) {
  const key = await loadEncryptionKey({ env: {}, keyFile: path.join(home, 'store.key') });
  const store = createEncryptedStore(await createFileStore({ dir: path.join(home, 'store') }), { key });
  try {
    return (await readServerState(store, serverUrl)).tokens;
  } finally {
    await store.close();
  }
}

describe('portcullis CLI against the gateway', () => {
  it('logs in through gateway consent and the IdP, lists and calls tools as the user, shows status, and logs out revoking at the gateway', async () => {
    const gw = stack.gateways.gateway;
    const url = gw.mcpUrl;

    const login = await cli(['login', url]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`Logged in to ${url}`);
    const browserLog = (await readFile(path.join(home, 'browser.log'), 'utf8')).trim().split('\n');
    expect(browserLog).toEqual([expect.stringMatching(/^landed on http:\/\/127\.0\.0\.1:\d+\//)]);
    // The browser went through the gateway's consent and its IdP callback; the CLI registered by DCR.
    expect(gw.served).toEqual(
      expect.arrayContaining([
        { method: 'POST', path: '/register', status: 201 },
        { method: 'GET', path: '/authorize', status: 200 },
        { method: 'POST', path: '/consent', status: 303 },
        { method: 'GET', path: '/callback', status: 302 },
      ]),
    );
    expect(stack.idp.requests.count({ method: 'POST', path: '/token' })).toBeGreaterThan(0);

    const tools = await cli(['tools', url]);
    expect(tools.code, tools.stderr).toBe(0);
    expect(tools.stdout).toMatch(/^echo\(text\) +Returns its text$/m);
    expect(tools.stdout).toMatch(/^whoami/m);

    const whoami = await cli(['call', url, 'whoami']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout).toBe('alice\n'); // the stdio child runs as the IdP user
    const echo = await cli(['call', url, 'echo', '--args', '{"text":"hi gateway"}']);
    expect(echo).toMatchObject({ code: 0, stdout: 'hi gateway\n' });

    const status = await cli(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const [server] = JSON.parse(status.stdout).servers;
    expect(server).toMatchObject({
      url,
      state: 'logged_in',
      usable: true,
      authorizationServer: gw.issuer, // the gateway is the AS, not the IdP behind it
      registration: { source: 'dcr', clientId: expect.stringMatching(/^dcr_/) },
      token: { refreshToken: true, scopes: expect.arrayContaining(['mcp']) },
      lastError: null,
    });
    expect(status.stdout).not.toContain(stack.idp.issuer);

    // One browser visit for the lot: every command reused the stored login.
    expect((await readFile(path.join(home, 'browser.log'), 'utf8')).trim().split('\n')).toHaveLength(1);

    const held = await storedTokens(url);
    expect(held?.accessToken).toMatch(/^pca_/);
    expect(held?.refreshToken).toMatch(/^pcr_/);
    expect((await mcpWithToken(url, held!.accessToken)).status).not.toBe(401);

    const revokesBefore = gw.served.filter((r) => r.path === '/revoke').length;
    const logout = await cli(['logout', url]);
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stderr).toContain(`Logged out of ${url}; revoked the refresh token`);
    expect(logout.stderr).toContain(`at ${gw.issuer}`);
    expect(gw.served.filter((r) => r.path === '/revoke').slice(revokesBefore)).toContainEqual({
      method: 'POST',
      path: '/revoke',
      status: 200,
    });

    const denied = await mcpWithToken(url, held!.accessToken);
    expect(denied.status).toBe(401);
    expect(denied.challenge).toContain('error="invalid_token"');
    const refresh = await postForm(`${gw.issuer}/token`, {
      grant_type: 'refresh_token',
      refresh_token: held!.refreshToken!,
      client_id: server.registration.clientId,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body).toMatchObject({ error: 'invalid_grant' });

    const after = await cli(['status']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('Not logged in to any MCP server');
  }, 120_000);
});
