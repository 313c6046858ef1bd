// The web login flow (begin → browser → complete) against the real oidc-provider AS and SDK MCP
// server, and every bad callback: each a typed error with a clear message, nothing stored changed.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { isClientError } from '../../src/client/errors.js';
import { createConnectionManager } from '../../src/client/manager.js';
import { createWebFlow, type WebFlowOptions } from '../../src/client/web-flow.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { createRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/store.js';
import { DEFAULT_USERS } from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { startProtectedServer, storedFor, textOf } from './host-setup.js';
import { type RecordingStore, recordingStore } from './host-store-snapshot.js';

const REDIRECT_URI = 'https://127.0.0.1/oauth/callback';
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const key = { userId: ALICE, serverId: 'fixture' };

function browser(login: string, opts: { approve?: boolean } = {}) {
  return (url: string) =>
    completeAuthorization(url, {
      login,
      password: DEFAULT_USERS[login]!.password,
      redirectUri: REDIRECT_URI,
      visitRedirectUri: false,
      ...opts,
    });
}

async function setup(options: Partial<WebFlowOptions> = {}) {
  const { as, mcp } = await startProtectedServer();
  const store = recordingStore(createMemoryStore());
  const flow = createWebFlow({
    store,
    redirectUri: REDIRECT_URI,
    encryptionKey: new Uint8Array(32).fill(7),
    ...options,
  });
  const begin = () => flow.begin({ ...key, serverUrl: mcp.url });
  return { as, mcp, store, flow, begin };
}

/** Runs `attempt`, expects a ClientError with `code`, and proves the store is as it was. */
async function expectRefused(
  store: RecordingStore,
  attempt: () => Promise<unknown>,
  code: string,
  message: RegExp,
) {
  const before = await store.snapshot();
  const error = await attempt().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isClientError(error) ? error.code : error).toBe(code);
  expect((error as Error).message).toMatch(message);
  expect(await store.snapshot()).toEqual(before);
}

describe('web login flow', () => {
  it('begins, completes, and the manager calls with the stored tokens, no login asked', async () => {
    const { mcp, store, begin, flow } = await setup();
    const { authorizationUrl, expiresAt } = await begin();
    const url = new URL(authorizationUrl);
    expect(url.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(mcp.url);
    expect(expiresAt).toBeGreaterThan(Date.now());

    // Stored: the state's hash only, the verifier sealed.
    const state = url.searchParams.get('state')!;
    const dump = JSON.stringify(await store.snapshot());
    expect(dump).not.toContain(state);
    const pending = (await store.snapshot())['host:web-logins']!;
    expect(Object.values(pending)[0]).toMatchObject({
      verifier: { iv: expect.any(String), ct: expect.any(String) },
    });

    const done = await flow.complete({
      userId: ALICE,
      callbackUrl: await browser('alice')(authorizationUrl),
    });
    expect(done).toMatchObject({ key, serverUrl: mcp.url, scope: expect.stringContaining('mcp:read') });
    expect((await storedFor(store, key, mcp.url)).tokens?.refreshToken).toBeTruthy();

    const manager = createConnectionManager({ store, interactionFor: () => undefined });
    onTestFinished(() => manager.closeAll());
    await manager.addServer({ ...key, url: mcp.url });
    expect(textOf(await manager.callTool(key, 'whoami'))).toBe('alice');
    expect((await manager.list(ALICE))[0]?.status).toBe('connected');
  });

  it("is wired into the manager: beginLogin / completeLogin emit the UI's events", async () => {
    const { mcp } = await startProtectedServer();
    const store = createMemoryStore();
    const manager = createConnectionManager({ store, redirectUri: REDIRECT_URI });
    onTestFinished(() => manager.closeAll());
    await manager.addServer({ ...key, url: mcp.url });
    await expect(manager.callTool(key, 'whoami')).rejects.toMatchObject({ code: 'authorization_required' });
    expect((await manager.list(ALICE))[0]?.status).toBe('needs-login');
    const seen: string[] = [];
    manager.events.on('authorization_required', (d) => seen.push(`required ${d.key.userId}`));
    manager.events.on('authorized', (d) => seen.push(`authorized ${d.key.userId}`));
    const { authorizationUrl } = await manager.beginLogin(key);
    await manager.completeLogin({ userId: ALICE, callbackUrl: await browser('alice')(authorizationUrl) });
    expect(seen).toEqual([`required ${ALICE}`, `authorized ${ALICE}`]);
    expect(textOf(await manager.callTool(key, 'whoami'))).toBe('alice');
  });

  it('refuses a forged state', async () => {
    const { store, begin, flow } = await setup();
    const callback = new URL(await browser('alice')((await begin()).authorizationUrl));
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state-value');
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: forged }),
      'state_unknown',
      /matches no pending login/,
    );
    const noState = new URL(callback);
    noState.searchParams.delete('state');
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: noState }),
      'invalid_callback',
      /no state/,
    );
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: 'not a url' }),
      'invalid_callback',
      /not a URL/,
    );
    // The genuine callback still completes.
    await expect(flow.complete({ userId: ALICE, callbackUrl: callback })).resolves.toMatchObject({ key });
  });

  it('refuses an expired state', async () => {
    let now = Date.now();
    const { store, begin, flow } = await setup({ clock: () => now });
    const callback = await browser('alice')((await begin()).authorizationUrl);
    now += 11 * 60_000;
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: callback }),
      'state_expired',
      /expired/,
    );
  });

  it('refuses a replayed state', async () => {
    const { store, begin, flow } = await setup();
    const callback = await browser('alice')((await begin()).authorizationUrl);
    await flow.complete({ userId: ALICE, callbackUrl: callback });
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: callback }),
      'state_replayed',
      /already used/,
    );
  });

  it("refuses another user's state, and leaves it for its owner", async () => {
    const { mcp, store, begin, flow } = await setup();
    const callback = await browser('alice')((await begin()).authorizationUrl);
    await expectRefused(
      store,
      () => flow.complete({ userId: BOB, callbackUrl: callback }),
      'state_foreign',
      /another user/,
    );
    expect((await storedFor(store, { userId: BOB, serverId: 'fixture' }, mcp.url)).tokens).toBeUndefined();
    await expect(flow.complete({ userId: ALICE, callbackUrl: callback })).resolves.toMatchObject({ key });
  });

  it('refuses a callback without a code', async () => {
    const { store, begin, flow } = await setup();
    const callback = new URL(await browser('alice')((await begin()).authorizationUrl));
    callback.searchParams.delete('code');
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: callback }),
      'invalid_callback',
      /no authorization code/,
    );
  });

  it("reports the AS's error in the callback", async () => {
    const { as, store, begin, flow } = await setup();
    const callback = await browser('alice', { approve: false })((await begin()).authorizationUrl);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: callback }),
      'authorization_failed',
      new RegExp(`${as.issuer} did not authorize the login: access_denied`),
    );
  });

  it('refuses a response from another issuer (RFC 9207)', async () => {
    const { store, begin, flow } = await setup();
    const callback = new URL(await browser('alice')((await begin()).authorizationUrl));
    callback.searchParams.set('iss', 'https://evil.example');
    await expectRefused(
      store,
      () => flow.complete({ userId: ALICE, callbackUrl: callback }),
      'authorization_failed',
      /RFC 9207/,
    );
  });

  describe('with the store down', () => {
    const prefix = `portcullis-test:web-flow:${randomUUID()}:`;
    const opened: Store[] = [];
    afterAll(async () => {
      const admin = new Redis('redis://127.0.0.1:6379');
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length) await admin.del(...keys);
      await admin.quit();
      for (const store of opened) await store.close();
    });

    it('fails with store_unavailable, changes nothing, and completes once the store is back', async () => {
      const { mcp } = await startProtectedServer();
      const redis = recordingStore(await createRedisStore({ url: 'redis://127.0.0.1:6379', prefix }));
      opened.push(redis);
      const flow = createWebFlow({ store: redis, redirectUri: REDIRECT_URI });
      const { authorizationUrl } = await flow.begin({ ...key, serverUrl: mcp.url });
      const callback = await browser('alice')(authorizationUrl);

      // The same store as the host sees it when Redis is unreachable (nothing listens on port 1).
      const down = new Redis('redis://127.0.0.1:1', {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      down.on('error', () => {});
      const downStore = await createRedisStore({ client: down, prefix });
      opened.push(downStore);
      const unavailable = createWebFlow({ store: downStore, redirectUri: REDIRECT_URI });
      await expectRefused(
        redis,
        () => unavailable.complete({ userId: ALICE, callbackUrl: callback }),
        'store_unavailable',
        /token store failed/,
      );
      await expectRefused(
        redis,
        () => unavailable.begin({ ...key, serverUrl: mcp.url }),
        'store_unavailable',
        /token store failed/,
      );
      down.disconnect();

      await expect(flow.complete({ userId: ALICE, callbackUrl: callback })).resolves.toMatchObject({ key });
    });
  });
});
