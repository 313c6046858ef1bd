import { describe, expect, it } from 'vitest';
import { LOGINS_NS, UpstreamLogins } from '../../src/gateway/upstream/logins.js';
import type { UpstreamIdentityProvider, UpstreamTokens } from '../../src/gateway/upstream/types.js';
import { silentLogger } from '../../src/logger.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { heldFirstRead, testClock } from './helpers.js';

/** A provider stub: only `refresh` is used by UpstreamLogins (a unit test of that one module). */
function refreshingProvider(clock: () => number) {
  const refreshed: UpstreamTokens[] = [];
  const provider: UpstreamIdentityProvider = {
    displayName: 'Test IdP',
    authorizationUrl: () => Promise.reject(new Error('not used')),
    complete: () => Promise.reject(new Error('not used')),
    async refresh(tokens) {
      refreshed.push(tokens);
      return { accessToken: `at-${refreshed.length + 1}`, refreshToken: 'rt', expiresAt: clock() + 300_000 };
    },
  };
  return { provider, refreshed };
}

function setup(cacheSeconds: number) {
  const clock = testClock();
  const memory = createMemoryStore({ clock: clock.now });
  let reads = 0;
  const store: Store = {
    ...memory,
    get: async <T>(ns: string, key: string) => {
      reads++;
      return memory.get<T>(ns, key);
    },
  };
  const { provider, refreshed } = refreshingProvider(clock.now);
  const logins = new UpstreamLogins({
    store,
    clock: clock.now,
    provider,
    skewSeconds: 60,
    ttlSeconds: 3600,
    cacheSeconds,
    logger: silentLogger,
  });
  return { clock, memory, logins, refreshed, reads: () => reads };
}

describe('upstream logins: the fresh access token per login', () => {
  it('is read from the store once per cache time, not once per MCP request', async () => {
    const t = setup(5);
    const id = await t.logins.save({
      accessToken: 'at-1',
      refreshToken: 'rt',
      expiresAt: t.clock.now() + 300_000,
    });
    for (let i = 0; i < 20; i++) expect(await t.logins.accessToken(id)).toBe('at-1');
    expect(t.reads()).toBe(1);
    t.clock.advance(5_000);
    expect(await t.logins.accessToken(id)).toBe('at-1');
    expect(t.reads()).toBe(2);
  });

  it('is never reused into its refresh window: the stale token is refreshed at the IdP', async () => {
    const t = setup(60);
    const id = await t.logins.save({
      accessToken: 'at-1',
      refreshToken: 'rt',
      expiresAt: t.clock.now() + 90_000,
    });
    expect(await t.logins.accessToken(id)).toBe('at-1');
    t.clock.advance(30_000); // 60 s before expiry: inside the 60 s skew, though within the cache time
    expect(await t.logins.accessToken(id)).toBe('at-2');
    expect(t.refreshed).toHaveLength(1);
    expect(await t.logins.accessToken(id)).toBe('at-2'); // the refreshed token is remembered
    expect(t.refreshed).toHaveLength(1);
  });

  it('is forgotten at once when the login is deleted in this process', async () => {
    const t = setup(60);
    const id = await t.logins.save({ accessToken: 'at-1', expiresAt: t.clock.now() + 300_000 });
    expect(await t.logins.accessToken(id)).toBe('at-1');
    await t.logins.delete(id);
    expect(await t.logins.accessToken(id)).toBeUndefined();
    expect(await t.memory.get(LOGINS_NS, id)).toBeUndefined();
  });

  it('does not remember a read that spanned a delete of the login', async () => {
    const clock = testClock();
    const memory = createMemoryStore({ clock: clock.now });
    const { store: gated, release } = heldFirstRead(memory);
    const logins = new UpstreamLogins({
      store: gated,
      clock: clock.now,
      provider: refreshingProvider(clock.now).provider,
      skewSeconds: 60,
      ttlSeconds: 3600,
      cacheSeconds: 60,
      logger: silentLogger,
    });
    const id = await logins.save({ accessToken: 'at-1', expiresAt: clock.now() + 300_000 });
    const reading = logins.accessToken(id); // has read the login; held until the delete is done
    await new Promise((resolve) => setImmediate(resolve));
    await logins.delete(id);
    release();
    expect(await reading).toBe('at-1');
    expect(await logins.accessToken(id)).toBeUndefined();
  });

  it('reads the store every time when the cache is off', async () => {
    const t = setup(0);
    const id = await t.logins.save({ accessToken: 'at-1', expiresAt: t.clock.now() + 300_000 });
    await t.logins.accessToken(id);
    await t.logins.accessToken(id);
    expect(t.reads()).toBe(2);
  });
});
