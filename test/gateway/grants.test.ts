import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashToken } from '../../src/gateway/tokens/format.js';
import { GRANTS_NS, type GrantRecord, Grants } from '../../src/gateway/tokens/grants.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { heldFirstRead, testClock } from './helpers.js';

/** Wraps a store and counts calls per verb. */
function countingStore(inner: Store) {
  const counts: Record<string, number> = {};
  const count = (verb: string) => {
    counts[verb] = (counts[verb] ?? 0) + 1;
  };
  const counted =
    <A extends unknown[], R>(verb: string, fn: (...args: A) => R) =>
    (...args: A): R => {
      count(verb);
      return fn(...args);
    };
  const store: Store = {
    get: counted('get', inner.get.bind(inner)) as Store['get'],
    set: counted('set', inner.set.bind(inner)) as Store['set'],
    delete: counted('delete', inner.delete.bind(inner)),
    take: counted('take', inner.take.bind(inner)) as Store['take'],
    withLock: counted('withLock', inner.withLock.bind(inner)) as Store['withLock'],
    list: counted('list', inner.list.bind(inner)),
    close: () => inner.close(),
    ...(inner.update
      ? { update: counted('update', inner.update.bind(inner)) as NonNullable<Store['update']> }
      : {}),
  };
  const reset = () => {
    for (const k of Object.keys(counts)) delete counts[k];
  };
  return { store, counts, reset };
}

function grantsFor(store: Store, clock = testClock(), accessTokenCacheSeconds = 0) {
  return new Grants({
    store,
    clock: clock.now,
    random: (n) => randomBytes(n),
    accessTokenTtl: 3600,
    refreshTokenTtl: 30 * 24 * 3600,
    refreshGraceSeconds: 30,
    accessTokenCacheSeconds,
  });
}

const NEW_GRANT = {
  clientId: 'dcr_client',
  userId: 'alice',
  scopes: ['mcp'],
  resource: 'https://gw.example/mcp',
  claims: { sub: 'alice', email: 'alice@example.test' },
  withRefreshToken: true,
};

describe('the grant record (docs/decisions/0010)', () => {
  it('costs the same store operations per refresh however often the grant has rotated', async () => {
    const memory = createMemoryStore();
    const { store, counts, reset } = countingStore(memory);
    const grants = grantsFor(store);
    let { tokens, grant } = await grants.issue(NEW_GRANT);
    const perRound: Array<{ ops: Record<string, number>; bytes: number }> = [];
    for (let round = 0; round < 5; round++) {
      reset();
      for (let i = 0; i < 2000; i++) {
        tokens = await grants.refresh(tokens.refresh_token!, { clientId: 'dcr_client' });
      }
      const record = await memory.get<GrantRecord>(GRANTS_NS, grant.id);
      perRound.push({ ops: { ...counts }, bytes: JSON.stringify(record).length });
    }
    // Every round: exactly one lock, one read and one write per refresh; the record does not grow.
    for (const { ops } of perRound) expect(ops).toEqual({ withLock: 2000, get: 2000, set: 2000 });
    const sizes = perRound.map((r) => r.bytes);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(16);
    expect(await memory.list(GRANTS_NS)).toEqual([grant.id]);
    grant = (await memory.get<GrantRecord>(GRANTS_NS, grant.id))!;
    expect(grant.access.length).toBeLessThanOrEqual(2);
  });

  it('verifies an access token with one read', async () => {
    const { store, counts, reset } = countingStore(createMemoryStore());
    const grants = grantsFor(store);
    const { tokens } = await grants.issue(NEW_GRANT);
    reset();
    const check = await grants.verifyAccessToken(tokens.access_token, 'https://gw.example/mcp');
    expect(check.ok).toBe(true);
    expect(counts).toEqual({ get: 1 });
  });

  it('keeps the previous access token valid after one rotation, not after two', async () => {
    const grants = grantsFor(createMemoryStore());
    const first = await grants.issue(NEW_GRANT);
    const second = await grants.refresh(first.tokens.refresh_token!, { clientId: 'dcr_client' });
    expect((await grants.verifyAccessToken(first.tokens.access_token, NEW_GRANT.resource)).ok).toBe(true);
    await grants.refresh(second.refresh_token!, { clientId: 'dcr_client' });
    expect((await grants.verifyAccessToken(first.tokens.access_token, NEW_GRANT.resource)).ok).toBe(false);
    expect((await grants.verifyAccessToken(second.access_token, NEW_GRANT.resource)).ok).toBe(true);
  });

  it('stores no token, only hashes, and seals the grace pair with the previous refresh token', async () => {
    const memory = createMemoryStore();
    const grants = grantsFor(memory);
    const { tokens, grant } = await grants.issue(NEW_GRANT);
    const next = await grants.refresh(tokens.refresh_token!, { clientId: 'dcr_client' });
    const raw = JSON.stringify(await memory.get(GRANTS_NS, grant.id));
    for (const token of [
      tokens.access_token,
      tokens.refresh_token!,
      next.access_token,
      next.refresh_token!,
    ]) {
      expect(raw).not.toContain(token.split('.')[1]);
    }
    expect(raw).toContain(hashToken(next.refresh_token!));
  });

  it('serialises concurrent refreshes with the same token into one rotation and one shared answer', async () => {
    const grants = grantsFor(createMemoryStore());
    const { tokens } = await grants.issue(NEW_GRANT);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => grants.refresh(tokens.refresh_token!, { clientId: 'dcr_client' })),
    );
    expect(new Set(answers.map((a) => a.refresh_token)).size).toBe(1);
    expect(new Set(answers.map((a) => a.access_token)).size).toBe(1);
  });
});

describe('remembered access tokens (docs/decisions/0021)', () => {
  const RESOURCE = NEW_GRANT.resource;

  it('reads the store once per token while it is remembered, and again after the cache time', async () => {
    const clock = testClock();
    const { store, counts, reset } = countingStore(createMemoryStore({ clock: clock.now }));
    const grants = grantsFor(store, clock, 5);
    const { tokens } = await grants.issue(NEW_GRANT);
    reset();
    const first = await grants.verifyAccessToken(tokens.access_token, RESOURCE);
    for (let i = 0; i < 10; i++) clock.advance(400);
    const again = await grants.verifyAccessToken(tokens.access_token, RESOURCE);
    expect(first.ok && again).toBe(first); // the same answer object, no second read
    expect(counts).toEqual({ get: 1 });
    clock.advance(1000); // 5 s after the first check
    expect((await grants.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(true);
    expect(counts).toEqual({ get: 2 });
  });

  it('still refuses another audience, and never answers past the token expiry', async () => {
    const clock = testClock();
    const grants = new Grants({
      store: createMemoryStore({ clock: clock.now }),
      clock: clock.now,
      random: (n) => randomBytes(n),
      accessTokenTtl: 2,
      refreshTokenTtl: 3600,
      refreshGraceSeconds: 30,
      accessTokenCacheSeconds: 60,
    });
    const { tokens } = await grants.issue(NEW_GRANT);
    expect((await grants.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(true);
    expect(await grants.verifyAccessToken(tokens.access_token, 'https://other.example/mcp')).toEqual({
      ok: false,
      reason: 'audience',
    });
    clock.advance(2000);
    expect(await grants.verifyAccessToken(tokens.access_token, RESOURCE)).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('forgets a grant at once when this process revokes it, rotates it past a token, or sees reuse', async () => {
    const grants = grantsFor(createMemoryStore(), testClock(), 60);
    const revoked = await grants.issue(NEW_GRANT);
    expect((await grants.verifyAccessToken(revoked.tokens.access_token, RESOURCE)).ok).toBe(true);
    await grants.revoke(revoked.grant.id);
    expect((await grants.verifyAccessToken(revoked.tokens.access_token, RESOURCE)).ok).toBe(false);

    const one = await grants.issue(NEW_GRANT);
    expect((await grants.verifyAccessToken(one.tokens.access_token, RESOURCE)).ok).toBe(true);
    await grants.revokeAccessToken(one.grant.id, one.tokens.access_token);
    expect((await grants.verifyAccessToken(one.tokens.access_token, RESOURCE)).ok).toBe(false);

    const rotated = await grants.issue(NEW_GRANT);
    expect((await grants.verifyAccessToken(rotated.tokens.access_token, RESOURCE)).ok).toBe(true);
    const second = await grants.refresh(rotated.tokens.refresh_token!, { clientId: 'dcr_client' });
    const third = await grants.refresh(second.refresh_token!, { clientId: 'dcr_client' });
    // Two rotations push the first access token out of the grant's two slots.
    expect((await grants.verifyAccessToken(rotated.tokens.access_token, RESOURCE)).ok).toBe(false);
    expect((await grants.verifyAccessToken(third.access_token, RESOURCE)).ok).toBe(true);
    // Reuse of a refresh token rotated out twice deletes the grant (RFC 9700 §4.14.2).
    const reuse = grants.refresh(rotated.tokens.refresh_token!, { clientId: 'dcr_client' });
    await expect(reuse).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await grants.verifyAccessToken(third.access_token, RESOURCE)).ok).toBe(false);
  });

  it('lets another process sharing the store see a revocation within the cache time', async () => {
    const clock = testClock();
    const store = createMemoryStore({ clock: clock.now });
    const a = grantsFor(store, clock, 5);
    const b = grantsFor(store, clock, 5);
    const { tokens, grant } = await a.issue(NEW_GRANT);
    expect((await b.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(true);
    await a.revoke(grant.id);
    expect((await a.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(false);
    // The replica still remembers the token (the documented bound), until its cache time passes.
    expect((await b.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(true);
    clock.advance(5000);
    expect((await b.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(false);
  });

  it('does not remember a check whose store read spanned a revocation', async () => {
    const { store: slow, release } = heldFirstRead(createMemoryStore());
    const grants = grantsFor(slow, testClock(), 60);
    const { tokens, grant } = await grants.issue(NEW_GRANT);
    const pending = grants.verifyAccessToken(tokens.access_token, RESOURCE); // reads the live grant
    await new Promise((resolve) => setImmediate(resolve));
    await grants.revoke(grant.id);
    release();
    expect((await pending).ok).toBe(true); // it read the store before the revocation landed
    expect((await grants.verifyAccessToken(tokens.access_token, RESOURCE)).ok).toBe(false);
  });
});

describe('the grant record on SQLite (one transaction per refresh)', () => {
  async function withSqlite(run: (file: string) => Promise<void>) {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-grants-'));
    try {
      await run(path.join(dir, 'gateway.db'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('refreshes with exactly one update and nothing else, however often the grant has rotated', async () => {
    await withSqlite(async (file) => {
      const sqlite = await createSqliteStore({ path: file });
      const { store, counts, reset } = countingStore(sqlite);
      const grants = grantsFor(store);
      let { tokens, grant } = await grants.issue(NEW_GRANT);
      const sizes: number[] = [];
      for (let round = 0; round < 3; round++) {
        reset();
        for (let i = 0; i < 500; i++) {
          tokens = await grants.refresh(tokens.refresh_token!, { clientId: 'dcr_client' });
        }
        expect(counts).toEqual({ update: 500 });
        sizes.push(JSON.stringify(await sqlite.get(GRANTS_NS, grant.id)).length);
      }
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(16);
      grant = (await sqlite.get<GrantRecord>(GRANTS_NS, grant.id))!;
      expect(grant.access.length).toBeLessThanOrEqual(2);
      await sqlite.close();
    });
  });

  it('shares one rotation among concurrent refreshes on two connections, and revokes on reuse', async () => {
    await withSqlite(async (file) => {
      const a = await createSqliteStore({ path: file });
      const b = await createSqliteStore({ path: file }); // as a second process would
      const clock = testClock();
      const [ga, gb] = [grantsFor(a, clock), grantsFor(b, clock)];
      const { tokens, grant } = await ga.issue(NEW_GRANT);
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? gb : ga).refresh(tokens.refresh_token!, { clientId: 'dcr_client' }),
        ),
      );
      expect(new Set(answers.map((x) => x.refresh_token)).size).toBe(1);
      const next = answers[0]!;
      await gb.refresh(next.refresh_token!, { clientId: 'dcr_client' });
      clock.advance(31_000); // past the grace window: the first token is now a replay
      await expect(ga.refresh(tokens.refresh_token!, { clientId: 'dcr_client' })).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      expect(await b.get(GRANTS_NS, grant.id)).toBeUndefined();
      await a.close();
      await b.close();
    });
  });
});
