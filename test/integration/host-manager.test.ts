// The connection manager against the real oidc-provider AS and the real SDK MCP server: two users
// on one server, each logging in through a loopback callback; isolation by key; events; login
// cancellation; session re-initialization; removal with RFC 7009 revocation.
import { describe, expect, it, onTestFinished } from 'vitest';
import { isClientError } from '../../src/client/errors.js';
import type { ConnectionKey } from '../../src/client/key-store.js';
import { type ConnectionManagerOptions, createConnectionManager } from '../../src/client/manager.js';
import { createMemoryStore } from '../../src/store/memory.js';
import {
  browserLogin,
  browserNeverCompletes,
  expireAccessToken,
  nextEvent,
  startProtectedServer,
  storedFor,
  textOf,
} from './host-setup.js';

const alice: ConnectionKey = { userId: 'alice@example.test', serverId: 'fixture' };
const bob: ConnectionKey = { userId: 'bob@example.test', serverId: 'fixture' };
const loginOf = (key: ConnectionKey) => key.userId.split('@')[0]!;

function manager(options: Partial<ConnectionManagerOptions> = {}) {
  const store = options.store ?? createMemoryStore();
  const m = createConnectionManager({
    store,
    interactionFor: (key) => browserLogin(loginOf(key)),
    authorizationTimeoutMs: 20_000,
    ...options,
  });
  onTestFinished(() => m.closeAll());
  const seen: Array<[string, string, string]> = [];
  for (const type of [
    'authorization_required',
    'authorized',
    'token_refreshed',
    'reauth_required',
    'revoked',
    'session_reinitialized',
  ] as const) {
    m.events.on(type, (detail) => seen.push([type, detail.key.userId, detail.serverUrl]));
  }
  return { m, store, seen };
}

describe('connection manager', () => {
  it('logs two users into one server, each calling with their own identity, on one re-used session per key', async () => {
    const { as, mcp } = await startProtectedServer();
    const { m, seen } = manager();
    await m.addServer({ ...alice, url: mcp.url });
    await m.addServer({ ...bob, url: mcp.url });
    expect((await m.list(alice.userId)).map((s) => s.status)).toEqual(['disconnected']);

    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
    expect(textOf(await m.callTool(bob, 'whoami'))).toBe('bob');
    expect(textOf(await m.callTool(alice, 'echo', { text: 'again' }))).toBe('again');
    expect((await m.listTools(bob)).map((t) => t.name)).toContain('whoami');

    const initializes = mcp.requests.filter((r) => r.rpcMethods.includes('initialize') && r.status === 200);
    expect(initializes).toHaveLength(2); // one session per key, re-used
    expect(as.requests.count('/token')).toBe(2); // one code exchange each, no more
    expect(seen).toEqual([
      ['authorization_required', alice.userId, mcp.url],
      ['authorized', alice.userId, mcp.url],
      ['authorization_required', bob.userId, mcp.url],
      ['authorized', bob.userId, mcp.url],
    ]);
    const [status] = await m.list(alice.userId);
    expect(status).toMatchObject({
      key: alice,
      url: mcp.url,
      status: 'connected',
      sessionOpen: true,
      issuer: as.issuer,
    });
  });

  it("never lets one user's key reach another user's tokens or session", async () => {
    const { mcp } = await startProtectedServer();
    const store = createMemoryStore();
    const { m } = manager({
      store,
      interactionFor: (key) => (key.userId === alice.userId ? browserLogin('alice') : undefined),
    });
    await m.addServer({ ...alice, url: mcp.url });
    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
    const aliceToken = (await storedFor(store, alice, mcp.url)).tokens!.accessToken;

    // Bob has not added the server: his key names nothing.
    await expect(m.callTool(bob, 'whoami')).rejects.toMatchObject({ code: 'unknown_server' });
    // Bob adds the same server under the same serverId: still none of Alice's state.
    await m.addServer({ ...bob, url: mcp.url });
    const before = mcp.requests.length;
    await expect(m.callTool(bob, 'whoami')).rejects.toMatchObject({ code: 'authorization_required' });
    const bobRequests = mcp.requests.slice(before);
    expect(bobRequests.length).toBeGreaterThan(0);
    expect(bobRequests.every((r) => !r.authorization?.includes(aliceToken))).toBe(true);
    expect(bobRequests.every((r) => r.sessionId === undefined)).toBe(true);
    expect((await storedFor(store, bob, mcp.url)).tokens).toBeUndefined();
    expect((await m.list(bob.userId)).map((s) => s.status)).toEqual(['needs-login']);
    expect(await m.list('mallory')).toEqual([]);
    // Alice is untouched.
    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
  });

  it('cancels a pending login: the call rejects with aborted and nothing is stored', async () => {
    const { mcp } = await startProtectedServer();
    const opened: URL[] = [];
    const { m, store } = manager({ interactionFor: () => browserNeverCompletes(opened) });
    await m.addServer({ ...alice, url: mcp.url });
    const asked = nextEvent<{ url: string; key: ConnectionKey }>(m.events, 'authorization_required');
    const call = m.connect(alice);
    const detail = await asked;
    expect(detail.key).toEqual(alice);
    expect(new URL(detail.url).searchParams.get('code_challenge_method')).toBe('S256');
    expect(m.cancelLogin(alice)).toBe(true);
    const error = await call.catch((e: unknown) => e);
    expect(isClientError(error, 'aborted')).toBe(true);
    expect(m.cancelLogin(alice)).toBe(false);
    expect((await storedFor(store, alice, mcp.url)).tokens).toBeUndefined();
    expect((await m.list(alice.userId))[0]).toMatchObject({
      status: 'needs-login',
      error: { code: 'aborted' },
    });
    // The loopback listener is gone: the redirect URI no longer answers.
    const redirect = new URL(opened[0]!.searchParams.get('redirect_uri')!);
    await expect(fetch(redirect)).rejects.toThrow();
  });

  it('refreshes an expired token once, reports it, and shows reauth-required when the refresh is refused', async () => {
    const { as, mcp } = await startProtectedServer();
    // The manager keeps a good token in memory; time passing (its clock) is what expires it.
    let offsetMs = 0;
    const { m, seen } = manager({
      interactionFor: (key) => browserLogin(loginOf(key)),
      clock: () => Date.now() + offsetMs,
    });
    await m.addServer({ ...alice, url: mcp.url });
    await m.connect(alice);
    offsetMs += 10 * 60_000; // past the fixture's 5-minute access tokens
    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
    expect(as.requests.grants('refresh_token')).toBe(1);

    await m.close(alice);
    as.expireRefreshTokens();
    offsetMs += 10 * 60_000;
    const reauth = nextEvent<{ reason: string }>(m.events, 'reauth_required');
    // With a person at hand the manager logs in again instead of failing the call.
    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
    expect((await reauth).reason).toBe('invalid_grant');
    expect(seen.map(([type]) => type)).toEqual([
      'authorization_required',
      'authorized',
      'token_refreshed',
      'reauth_required',
      'authorization_required',
      'authorized',
    ]);
  });

  it('without a person at hand, a refused refresh leaves the key reauth-required', async () => {
    const { as, mcp } = await startProtectedServer();
    const store = createMemoryStore();
    const first = manager({ store });
    await first.m.addServer({ ...alice, url: mcp.url });
    await first.m.connect(alice);
    await first.m.closeAll();

    as.expireRefreshTokens();
    await expireAccessToken(store, alice, mcp.url);
    const { m } = manager({ store, interactionFor: () => undefined });
    await expect(m.callTool(alice, 'whoami')).rejects.toMatchObject({ code: 'reauth_required' });
    expect((await m.list(alice.userId))[0]).toMatchObject({
      status: 'reauth-required',
      error: { code: 'reauth_required' },
    });
  });

  it('re-initializes a session the server ended and retries the call', async () => {
    const { mcp } = await startProtectedServer();
    const { m, store, seen } = manager();
    await m.addServer({ ...alice, url: mcp.url });
    expect(textOf(await m.callTool(alice, 'whoami'))).toBe('alice');
    // The server ends the session (as after a restart), keeping its connections open.
    const [sessionId] = mcp.sessionIds;
    const { tokens } = await storedFor(store, alice, mcp.url);
    const ended = await fetch(mcp.url, {
      method: 'DELETE',
      headers: {
        authorization: `Bearer ${tokens!.accessToken}`,
        'mcp-session-id': sessionId!,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    expect(ended.status).toBe(200);
    expect(textOf(await m.callTool(alice, 'echo', { text: 'still here' }))).toBe('still here');
    expect(seen.at(-1)).toEqual(['session_reinitialized', alice.userId, mcp.url]);
    expect(mcp.sessionIds).toHaveLength(1);
    expect(mcp.sessionIds[0]).not.toBe(sessionId);
  });

  it('removes a server: revocation reaches the AS, then every record of the key is gone', async () => {
    const { as, mcp } = await startProtectedServer();
    const { m, store, seen } = manager();
    await m.addServer({ ...alice, url: mcp.url });
    await m.addServer({ ...bob, url: mcp.url });
    await m.connect(alice);
    await m.connect(bob);

    const removed = await m.removeServer(alice);
    expect(removed.revocation).toMatchObject({
      status: 'revoked',
      issuer: as.issuer,
      revoked: ['refresh_token'],
    });
    // The fixture's access tokens are JWTs, which oidc-provider cannot revoke (RFC 7009 §2.2.1).
    expect(removed.revocation.notRevocable).toEqual(['access_token']);
    expect(as.requests.filter({ path: '/token/revocation' }).map((r) => r.status)).toEqual([200, 400]);
    expect(await storedFor(store, alice, mcp.url)).toEqual({
      server: undefined,
      client: undefined,
      tokens: undefined,
    });
    expect(await m.list(alice.userId)).toEqual([]);
    expect(seen.at(-1)).toEqual(['revoked', alice.userId, mcp.url]);
    // Bob's login is untouched.
    expect(textOf(await m.callTool(bob, 'whoami'))).toBe('bob');
    await expect(m.callTool(alice, 'whoami')).rejects.toMatchObject({ code: 'unknown_server' });
  });

  it('reports a failed revocation and removes the server all the same', async () => {
    const { as, mcp } = await startProtectedServer();
    const { m, store } = manager();
    await m.addServer({ ...alice, url: mcp.url });
    await m.connect(alice);
    as.intercept((req, res) => {
      if (!req.url?.startsWith('/token/revocation')) return false;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
      return true;
    });
    const removed = await m.removeServer(alice);
    expect(removed.revocation.status).toBe('failed');
    expect(removed.revocation.failures.map((f) => f.token)).toEqual(['refresh_token', 'access_token']);
    expect(as.requests.count('/token/revocation')).toBe(2);
    expect(await storedFor(store, alice, mcp.url)).toEqual({
      server: undefined,
      client: undefined,
      tokens: undefined,
    });
    expect(await m.list(alice.userId)).toEqual([]);
  });

  it('refuses a second URL under one serverId, and URLs that are not https or loopback', async () => {
    const { mcp } = await startProtectedServer();
    const { m } = manager();
    await m.addServer({ ...alice, url: mcp.url });
    await expect(m.addServer({ ...alice, url: `${mcp.origin}/other` })).rejects.toMatchObject({
      code: 'server_exists',
    });
    await expect(
      m.addServer({ ...alice, serverId: 'x', url: 'http://example.com/mcp' }),
    ).rejects.toMatchObject({
      code: 'insecure_url',
    });
    await expect(m.addServer({ ...alice, serverId: '', url: mcp.url })).rejects.toThrow(TypeError);
  });
});
