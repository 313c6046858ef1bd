// Keeping a login alive against the real oidc-provider (rotating refresh tokens, reuse revokes the
// grant): proactive refresh, one refresh for many callers and for many processes, a forgotten
// registration, and a revoked grant. Time moves through the client's injected clock only.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuthFetch } from '../../src/client/auth-fetch.js';
import { ClientError } from '../../src/client/errors.js';
import { readServerState } from '../../src/client/state.js';
import { createFileStore } from '../../src/store/file.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import type { McpTestServer } from '../fixtures/mcp-server.js';
import {
  browserLogin,
  connectMcp,
  echo,
  expireStoredTokens,
  spawnClientChild,
  startServers,
  storedTokens,
  tempDir,
} from './client-helpers.js';

/** The client's clock: real time until the test sets `at`; the servers always keep real time. */
function testClock() {
  const clock = { at: undefined as number | undefined, now: () => clock.at ?? Date.now() };
  return clock;
}

/** Logs in once with the browser agent; returns the connected SDK client and the auth fetch. */
async function loggedIn(mcp: McpTestServer, store: Store, clock = testClock(), refreshSkewSeconds?: number) {
  const authFetch = createAuthFetch({
    serverUrl: mcp.url,
    store,
    interaction: browserLogin(),
    clock: clock.now,
    ...(refreshSkewSeconds === undefined ? {} : { refreshSkewSeconds }),
  });
  const refreshed: unknown[] = [];
  authFetch.events.addEventListener('token_refreshed', (e) => refreshed.push((e as CustomEvent).detail));
  const client = await connectMcp(mcp.url, authFetch);
  expect(await echo(client, 'logged in')).toBe('logged in');
  return { authFetch, client, clock, refreshed, tokens: await storedTokens(store, mcp.url) };
}

const unauthorized = (mcp: McpTestServer) => mcp.requests.filter((r) => r.status === 401).length;

describe('proactive refresh', () => {
  it('refreshes once the clock is within the skew of expiry, before the server could refuse the token', async () => {
    const { as, mcp } = await startServers();
    const store = createMemoryStore();
    const { client, clock, refreshed, tokens } = await loggedIn(mcp, store, testClock(), 120);
    const refusalsBefore = unauthorized(mcp);

    clock.at = tokens.expiresAt! - 150_000;
    expect(await echo(client, 'outside the skew')).toBe('outside the skew');
    expect(as.requests.grants('refresh_token')).toBe(0);

    clock.at = tokens.expiresAt! - 90_000;
    expect(await echo(client, 'inside the skew')).toBe('inside the skew');
    expect(as.requests.grants('refresh_token')).toBe(1);
    expect(refreshed).toHaveLength(1);
    expect(unauthorized(mcp)).toBe(refusalsBefore);

    const next = await storedTokens(store, mcp.url);
    expect(next.accessToken).not.toBe(tokens.accessToken);
    expect(next.refreshToken).not.toBe(tokens.refreshToken); // rotated
    expect(mcp.lastAuthorization).toBe(`Bearer ${next.accessToken}`);
  });

  it('sends ONE refresh for 50 concurrent calls holding an expired token', async () => {
    const { as, mcp } = await startServers();
    const store = createMemoryStore();
    const { client, clock, refreshed, tokens } = await loggedIn(mcp, store);
    clock.at = tokens.expiresAt! + 1000;

    const texts = Array.from({ length: 50 }, (_, i) => `call ${i}`);
    expect(await Promise.all(texts.map((text) => echo(client, text)))).toEqual(texts);

    expect(as.requests.grants('refresh_token')).toBe(1);
    expect(refreshed).toHaveLength(1);
    const next = await storedTokens(store, mcp.url);
    const sent = new Set(mcp.requests.slice(-50).map((r) => r.authorization));
    expect(sent).toEqual(new Set([`Bearer ${next.accessToken}`]));
  });
});

describe('two processes sharing a file store', () => {
  it('refresh a rotating refresh token exactly once between them, and both end with the new token', async () => {
    const { as, mcp } = await startServers();
    const dir = await tempDir();
    const store = await createFileStore({ dir });
    await loggedIn(mcp, store);
    await expireStoredTokens(store, mcp.url);
    await store.close();
    const mcpRequestsBefore = mcp.requests.length;

    const children = [1, 2].map((n) =>
      spawnClientChild({ dir, serverUrl: mcp.url, text: `process ${n}`, waitForGo: true }),
    );
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.exit));

    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const outputs = results.map(
      (r) => JSON.parse(r.stdout) as { echoed: string; refreshed: number; sentTokenHash: string },
    );
    expect(outputs.map((o) => o.echoed)).toEqual(['process 1', 'process 2']);
    expect(outputs.map((o) => o.refreshed).sort()).toEqual([0, 1]);
    expect(as.requests.grants('refresh_token')).toBe(1);

    const after = await createFileStore({ dir });
    const final = await storedTokens(after, mcp.url);
    const finalHash = createHash('sha256').update(final.accessToken).digest('hex');
    expect(outputs.map((o) => o.sentTokenHash)).toEqual([finalHash, finalHash]);
    expect(mcp.requests.slice(mcpRequestsBefore).filter((r) => r.status === 401)).toEqual([]);

    // The token they share works for a third caller too, with no further refresh.
    const third = createAuthFetch({ serverUrl: mcp.url, store: after });
    expect(await echo(await connectMcp(mcp.url, third), 'third')).toBe('third');
    expect(as.requests.grants('refresh_token')).toBe(1);
    await after.close();
  });
});

describe('a registration the AS forgot', () => {
  it('is dropped when the refresh fails with invalid_client, registered again, and the login redone', async () => {
    const { as, mcp } = await startServers();
    const store = createMemoryStore();
    const { client, clock, tokens } = await loggedIn(mcp, store);
    const first = (await readServerState(store, mcp.url)).client!;
    expect(as.forgetClient(first.clientId)).toBe(true);
    clock.at = tokens.expiresAt! + 1000;

    expect(await echo(client, 'after re-registration')).toBe('after re-registration');

    expect(as.requests.filter({ grantType: 'refresh_token' }).map((r) => r.status)).toEqual([401]);
    const second = (await readServerState(store, mcp.url)).client!;
    expect(second.clientId).not.toBe(first.clientId);
    expect(as.registeredClients().has(second.clientId)).toBe(true);
    expect(as.requests.count('/auth')).toBe(2);
    const { tokens: fresh, server } = await readServerState(store, mcp.url);
    expect(mcp.lastAuthorization).toBe(`Bearer ${fresh!.accessToken}`);
    expect(server?.lastError).toBeUndefined();
  });
});

describe('a revoked grant', () => {
  it('turns invalid_grant into reauth_required: tokens cleared, registration kept, the error recorded', async () => {
    const { as, mcp } = await startServers();
    const store = createMemoryStore();
    const { clock, tokens } = await loggedIn(mcp, store);
    const registration = (await readServerState(store, mcp.url)).client!;
    as.revokeAllGrants();
    clock.at = tokens.expiresAt! + 1000;

    // A process that cannot ask anyone to log in (no interaction).
    const headless = createAuthFetch({ serverUrl: mcp.url, store, clock: clock.now });
    const reasons: unknown[] = [];
    headless.events.addEventListener('reauth_required', (e) =>
      reasons.push((e as CustomEvent).detail.reason),
    );
    const error = await connectMcp(mcp.url, headless).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({
      code: 'reauth_required',
      message: expect.stringContaining(`refreshing the access token for ${mcp.url} failed (invalid_grant`),
    });
    expect((error as Error).message).toContain('a new login is needed');
    expect(reasons).toEqual(['invalid_grant']);
    const state = await readServerState(store, mcp.url);
    expect(state.tokens).toBeUndefined();
    expect(state.client).toEqual(registration);
    expect(state.server?.lastError).toEqual({
      code: 'reauth_required',
      message: (error as Error).message,
      at: expect.any(Number),
    });
    expect(as.requests.count('/auth')).toBe(1);
  });
});
