import { describe, expect, it } from 'vitest';
import { isClientError } from '../../../src/client/errors.js';
import { keyNamespace, keyStore, registryNamespace } from '../../../src/client/key-store.js';
import { createConnectionManager } from '../../../src/client/manager.js';
import { ConnectionEvents } from '../../../src/client/manager-events.js';
import { type ServerEntry, serverStatus } from '../../../src/client/manager-status.js';
import { NS, type ServerRecord, type TokenRecord } from '../../../src/client/state.js';
import { createMemoryStore } from '../../../src/store/memory.js';

const alice = { userId: 'alice@example.test', serverId: 'files' };
const bob = { userId: 'bob@example.test', serverId: 'files' };
const URL_ = 'https://mcp.example/mcp';
const ISSUER = 'https://as.example';

describe('per-key store views', () => {
  it("keeps each key's records apart, hashing the ids out of the store's namespaces", async () => {
    const store = createMemoryStore();
    await keyStore(store, alice).set(NS.tokens, URL_, { accessToken: 'a' });
    await keyStore(store, bob).set(NS.tokens, URL_, { accessToken: 'b' });
    await keyStore(store, { ...alice, serverId: 'other' }).set(NS.tokens, URL_, { accessToken: 'c' });
    expect(await keyStore(store, alice).get(NS.tokens, URL_)).toEqual({ accessToken: 'a' });
    expect(await keyStore(store, bob).get(NS.tokens, URL_)).toEqual({ accessToken: 'b' });
    expect(await keyStore(store, bob).list(NS.tokens)).toEqual([URL_]);
    expect(await store.get(NS.tokens, URL_)).toBeUndefined();
    expect(keyNamespace(alice)).not.toContain('alice');
    expect(registryNamespace(alice.userId)).not.toContain('alice');
    expect(keyNamespace(alice)).toMatch(/^host:[\w-]{22}:[\w-]{22}$/);
  });

  it('does not close the store it views', async () => {
    const store = createMemoryStore();
    await keyStore(store, alice).close();
    await expect(store.set('x', 'y', 1)).resolves.toBeUndefined();
  });
});

describe('server status', () => {
  const entry: ServerEntry = { serverId: 'files', url: URL_, addedAt: 0 };
  const now = 1_000_000;
  const server: ServerRecord = {
    serverUrl: URL_,
    authorizationServer: { issuer: ISSUER },
    updatedAt: 0,
  } as ServerRecord;
  const tokens = (extra: Partial<TokenRecord> = {}): TokenRecord => ({
    issuer: ISSUER,
    accessToken: 'at',
    tokenType: 'Bearer',
    issuedAt: 0,
    expiresAt: now + 60_000,
    ...extra,
  });

  async function statusWith(
    records: { server?: ServerRecord; tokens?: TokenRecord },
    local = { sessionOpen: false },
  ) {
    const view = keyStore(createMemoryStore(), alice);
    if (records.server) await view.set(NS.servers, URL_, records.server);
    if (records.tokens) await view.set(NS.tokens, `${URL_} ${ISSUER}`, records.tokens);
    return serverStatus(view, alice, entry, local, now);
  }

  it.each([
    ['nothing known', {}, 'disconnected'],
    ['OAuth discovered, no tokens', { server }, 'needs-login'],
    ['usable tokens', { server, tokens: tokens() }, 'connected'],
    [
      'expired tokens with a refresh token',
      { server, tokens: tokens({ expiresAt: 1, refreshToken: 'rt' }) },
      'connected',
    ],
    ['expired tokens, no refresh token', { server, tokens: tokens({ expiresAt: 1 }) }, 'needs-login'],
    [
      'a failed refresh',
      { server, tokens: tokens({ refreshError: { error: 'server_error', at: 1 } }) },
      'reauth-required',
    ],
    [
      'tokens dropped after invalid_grant',
      { server: { ...server, lastError: { code: 'reauth_required', message: 'log in again', at: 1 } } },
      'reauth-required',
    ],
  ] as const)('%s → %s', async (_, records, expected) => {
    expect((await statusWith(records)).status).toBe(expected);
  });

  it('reports an open session as connected, and a local failure as error with its message', async () => {
    expect((await statusWith({}, { sessionOpen: true })).status).toBe('connected');
    const failed = await serverStatus(
      keyStore(createMemoryStore(), alice),
      alice,
      entry,
      { sessionOpen: false, lastFailure: { code: 'network', message: 'could not reach' } },
      now,
    );
    expect(failed).toMatchObject({ status: 'error', error: { code: 'network', message: 'could not reach' } });
  });
});

describe('connection events', () => {
  it('hands listeners the detail and unsubscribes', () => {
    const events = new ConnectionEvents();
    const seen: string[] = [];
    const off = events.on('token_refreshed', (d) => seen.push(d.key.userId));
    events.emit('token_refreshed', { key: alice, serverUrl: URL_ });
    off();
    events.emit('token_refreshed', { key: bob, serverUrl: URL_ });
    expect(seen).toEqual([alice.userId]);
  });
});

describe('connection manager (no network)', () => {
  it('keeps a registry per user, sorted, and refuses keys it does not know', async () => {
    const m = createConnectionManager({ store: createMemoryStore() });
    await m.addServer({ ...alice, serverId: 'zeta', url: URL_ });
    await m.addServer({ ...alice, url: URL_, headers: { 'x-api-key': 'k' } });
    expect((await m.list(alice.userId)).map((s) => [s.key.serverId, s.status])).toEqual([
      ['files', 'disconnected'],
      ['zeta', 'disconnected'],
    ]);
    expect(await m.list(bob.userId)).toEqual([]);
    const error = await m.callTool(bob, 'x').catch((e) => e);
    expect(isClientError(error, 'unknown_server')).toBe(true);
    expect(m.cancelLogin(alice)).toBe(false);
    await expect(m.removeServer(bob)).rejects.toMatchObject({ code: 'unknown_server' });
  });

  it('needs a redirectUri for the web login', async () => {
    const m = createConnectionManager({ store: createMemoryStore() });
    await m.addServer({ ...alice, url: URL_ });
    await expect(m.beginLogin(alice)).rejects.toThrow(/redirectUri/);
  });

  it('removes a server that never logged in: nothing to revoke', async () => {
    const m = createConnectionManager({ store: createMemoryStore() });
    await m.addServer({ ...alice, url: URL_ });
    const removed = await m.removeServer(alice);
    expect(removed.revocation).toEqual({ status: 'no_tokens', revoked: [], notRevocable: [], failures: [] });
    expect(await m.list(alice.userId)).toEqual([]);
  });
});
