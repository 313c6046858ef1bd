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
import { testClock } from './helpers.js';

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

function grantsFor(store: Store, clock = testClock()) {
  return new Grants({
    store,
    clock: clock.now,
    random: (n) => randomBytes(n),
    accessTokenTtl: 3600,
    refreshTokenTtl: 30 * 24 * 3600,
    refreshGraceSeconds: 30,
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
