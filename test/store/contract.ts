/**
 * The one Store contract every backend runs. A backend's test file calls `describeStoreContract`
 * with a factory giving a fresh, empty store (and, where it can, a fake clock and a second
 * handle on the same data, as another process would have).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Store, StoreError, updateEntry } from '../../src/store/index.js';

export interface StoreUnderTest {
  store: Store;
  /** Present when the backend takes an injected clock: TTL tests move it instead of waiting. */
  clock?: { advance(ms: number): void };
  /** Another, independent handle on the same backing data (as a second process would hold). */
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/** A clock tests move by hand. */
export function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Resolves when `release()` is called: a critical section that stays open until the test says so. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { opened, release };
}

const KEYS = [
  'https://mcp.example.com/mcp?tenant=a&x=1#frag',
  'https://MCP.example.com/mcp', // differs from a lowercase twin only by case
  'https://mcp.example.com/MCP',
  'a/b',
  'a?b', // slugs to the same text as a/b
  '../../etc/passwd',
  '..',
  '.',
  '',
  ' spaced out ',
  'CON',
  'nul.txt',
  'C:\\Windows\\System32',
  'tab\tnewline\nquote"star*pipe|lt<gt>colon:',
  'üñíçødé – 東京 – 🚀',
  'glob*chars?[x]\\',
  'x'.repeat(5000),
];

export function describeStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    let t: StoreUnderTest;
    let store: Store;
    const extra: Store[] = [];

    beforeEach(async () => {
      t = await makeStore();
      store = t.store;
    });

    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await t.cleanup();
    });

    async function second(): Promise<Store | undefined> {
      const other = await t.reopen?.();
      if (other !== undefined) extra.push(other);
      return other;
    }

    /** TTL tests: move the fake clock by `ttlMs` then check, or poll until real time has passed it. */
    async function afterExpiry(check: () => Promise<void>, ttlMs: number): Promise<void> {
      if (t.clock) {
        t.clock.advance(ttlMs);
        await check();
      } else {
        await vi.waitFor(check, { timeout: ttlMs + 3_000, interval: 100 });
      }
    }

    /** Lets `ms` pass: on the fake clock, or (for backends that expire by their own clock) for real. */
    async function letTimePass(ms: number): Promise<void> {
      if (t.clock) t.clock.advance(ms);
      else await sleep(ms + 250);
    }

    it('returns undefined for a key never set', async () => {
      expect(await store.get('tokens', 'https://nowhere.example')).toBeUndefined();
    });

    it('round-trips JSON values deep-equal, nested objects included', async () => {
      const value = {
        access_token: 'at-123',
        expires_at: 1_700_000_000,
        scopes: ['read', 'write'],
        nested: { deeper: { list: [1, 2.5, -3, { ok: true }], nothing: null, empty: {} } },
        text: 'üñíçødé \u2028 "quoted" \\ backslash',
      };
      await store.set('tokens', 'k', value);
      expect(await store.get('tokens', 'k')).toEqual(value);
      for (const scalar of ['a string', 42, true, false, null, [1, 'two']]) {
        await store.set('scalars', 'k', scalar);
        expect(await store.get('scalars', 'k')).toEqual(scalar);
      }
    });

    it('replaces a value on set, dropping the old TTL', async () => {
      await store.set('tokens', 'k', { v: 1 }, { ttlSeconds: 1 });
      await store.set('tokens', 'k', { v: 2 });
      await letTimePass(1_000);
      expect(await store.get('tokens', 'k')).toEqual({ v: 2 });
    });

    it('deletes a value, and deleting an absent key is not an error', async () => {
      await store.set('tokens', 'k', 'v');
      await store.delete('tokens', 'k');
      expect(await store.get('tokens', 'k')).toBeUndefined();
      await expect(store.delete('tokens', 'never-there')).resolves.toBeUndefined();
    });

    it('keeps values for keys of any characters apart (URLs, unicode, paths, very long)', async () => {
      for (const [i, key] of KEYS.entries()) await store.set('servers', key, { i });
      for (const [i, key] of KEYS.entries()) expect(await store.get('servers', key)).toEqual({ i });
      expect((await store.list('servers')).sort()).toEqual([...KEYS].sort());
      await store.delete('servers', 'a/b');
      expect(await store.get('servers', 'a?b')).toEqual({ i: KEYS.indexOf('a?b') });
    });

    it('rejects U+0000 in a key or namespace, and undefined as a value', async () => {
      await expect(store.set('tokens', 'a\0b', 1)).rejects.toThrow(TypeError);
      await expect(store.get('to\0kens', 'a')).rejects.toThrow(TypeError);
      await expect(store.set('tokens', 'a', undefined)).rejects.toThrow(TypeError);
    });

    it('isolates namespaces, including ones that look like key separators', async () => {
      await store.set('tokens', 'k', 'token');
      await store.set('clients', 'k', 'client');
      await store.set('x', 'y:z', 'first');
      await store.set('x:y', 'z', 'second');
      await store.set('Tokens', 'k', 'other case');
      expect(await store.get('tokens', 'k')).toBe('token');
      expect(await store.get('clients', 'k')).toBe('client');
      expect(await store.get('x', 'y:z')).toBe('first');
      expect(await store.get('x:y', 'z')).toBe('second');
      expect(await store.get('Tokens', 'k')).toBe('other case');
      await store.delete('tokens', 'k');
      expect(await store.get('clients', 'k')).toBe('client');
      expect(await store.list('x')).toEqual(['y:z']);
      expect(await store.list('x:y')).toEqual(['z']);
    });

    it('lists the unexpired keys of one namespace', async () => {
      expect(await store.list('empty')).toEqual([]);
      await store.set('sessions', 'a', 1);
      await store.set('sessions', 'b', 2);
      await store.set('sessions', 'short', 3, { ttlSeconds: 1 });
      await store.set('other', 'c', 3);
      expect((await store.list('sessions')).sort()).toEqual(['a', 'b', 'short']);
      await afterExpiry(async () => {
        expect((await store.list('sessions')).sort()).toEqual(['a', 'b']);
      }, 1_000);
    });

    it('hands out copies: mutating a value after set or get leaves the stored one alone', async () => {
      const value = { list: [1], inner: { a: 1 } };
      await store.set('tokens', 'k', value);
      value.list.push(2);
      value.inner.a = 99;
      const read = await store.get<typeof value>('tokens', 'k');
      expect(read).toEqual({ list: [1], inner: { a: 1 } });
      read!.inner.a = 42;
      expect(await store.get('tokens', 'k')).toEqual({ list: [1], inner: { a: 1 } });
    });

    it('expires a value after its TTL: absent from get, take and list', async () => {
      await store.set('pkce', 'state-1', { verifier: 'v' }, { ttlSeconds: 1 });
      await store.set('pkce', 'state-2', { verifier: 'w' }, { ttlSeconds: 1 });
      await store.set('pkce', 'forever', { verifier: 'x' });
      if (t.clock) {
        t.clock.advance(999);
        expect(await store.get('pkce', 'state-1')).toEqual({ verifier: 'v' });
      }
      await afterExpiry(async () => {
        expect(await store.get('pkce', 'state-1')).toBeUndefined();
      }, 1_000);
      expect(await store.take('pkce', 'state-2')).toBeUndefined();
      expect(await store.list('pkce')).toEqual(['forever']);
      expect(await store.get('pkce', 'forever')).toEqual({ verifier: 'x' });
    });

    it('rejects a TTL that is not a positive number', async () => {
      await expect(store.set('pkce', 'k', 1, { ttlSeconds: 0 })).rejects.toThrow(RangeError);
      await expect(store.set('pkce', 'k', 1, { ttlSeconds: Number.NaN })).rejects.toThrow(RangeError);
    });

    it('takes a value exactly once', async () => {
      await store.set('codes', 'c', { sub: 'u1' });
      expect(await store.take('codes', 'c')).toEqual({ sub: 'u1' });
      expect(await store.take('codes', 'c')).toBeUndefined();
      expect(await store.get('codes', 'c')).toBeUndefined();
      expect(await store.take('codes', 'never-set')).toBeUndefined();
    });

    it('gives a value to exactly one of 20 concurrent takers', async () => {
      await store.set('codes', 'c', { sub: 'u1' });
      const other = await second();
      const takers = Array.from({ length: 20 }, (_, i) =>
        (other !== undefined && i % 2 === 1 ? other : store).take('codes', 'c'),
      );
      const results = await Promise.all(takers);
      expect(results.filter((r) => r !== undefined)).toEqual([{ sub: 'u1' }]);
    });

    it('runs 20 concurrent critical sections on one key one at a time', async () => {
      const events: string[] = [];
      let inside = 0;
      let counter = 0;
      const other = await second();
      const sections = Array.from({ length: 20 }, (_, i) =>
        (other !== undefined && i % 2 === 1 ? other : store).withLock(
          'refresh',
          'https://mcp.example.com',
          async () => {
            inside++;
            events.push(`enter ${i}`);
            expect(inside).toBe(1);
            const read = counter;
            await sleep(1);
            await Promise.resolve();
            counter = read + 1;
            events.push(`exit ${i}`);
            inside--;
            return i;
          },
        ),
      );
      expect((await Promise.all(sections)).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      expect(counter).toBe(20);
      for (let at = 0; at < events.length; at += 2) {
        expect(events[at]?.replace('enter', 'exit')).toBe(events[at + 1]);
      }
    });

    it("returns fn's result, and leaves values alone", async () => {
      expect(await store.withLock('refresh', 'k', async () => 'result')).toBe('result');
      expect(await store.get('refresh', 'k')).toBeUndefined();
    });

    it('fails with lock_timeout when the lock stays held past timeoutMs', async () => {
      const held = gate();
      let entered!: () => void;
      const enteredP = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const holder = store.withLock('refresh', 'k', async () => {
        entered();
        await held.opened;
      });
      await enteredP;
      await expect(
        store.withLock('refresh', 'k', async () => 'never', { timeoutMs: 150 }),
      ).rejects.toMatchObject({
        name: 'StoreError',
        code: 'lock_timeout',
      });
      const other = await second();
      if (other !== undefined) {
        const refused = other.withLock('refresh', 'k', async () => 'never', { timeoutMs: 150 });
        await expect(refused).rejects.toBeInstanceOf(StoreError);
        await expect(refused).rejects.toMatchObject({ code: 'lock_timeout' });
      }
      held.release();
      await holder;
      expect(await store.withLock('refresh', 'k', async () => 'after', { timeoutMs: 5_000 })).toBe('after');
    });

    it('releases the lock when fn throws, passing the error through', async () => {
      const failure = new Error('refresh failed');
      await expect(
        store.withLock('refresh', 'k', async () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.withLock('refresh', 'k', async () => 'next', { timeoutMs: 2_000 })).toBe('next');
      const other = await second();
      if (other !== undefined) {
        expect(await other.withLock('refresh', 'k', async () => 'other', { timeoutMs: 2_000 })).toBe('other');
      }
    });

    it('does not block one key on another', async () => {
      const held = gate();
      let entered!: () => void;
      const enteredP = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const holder = store.withLock('refresh', 'a', async () => {
        entered();
        await held.opened;
      });
      await enteredP;
      expect(await store.withLock('refresh', 'b', async () => 'b', { timeoutMs: 2_000 })).toBe('b');
      expect(await store.withLock('other', 'a', async () => 'other ns', { timeoutMs: 2_000 })).toBe(
        'other ns',
      );
      held.release();
      await holder;
    });

    describe('update (native, or updateEntry over withLock)', () => {
      const update = <T, R>(
        s: Store,
        key: string,
        fn: Parameters<typeof updateEntry<T, R>>[3],
        opts?: { timeoutMs: number },
      ) => updateEntry<T, R>(s, 'grants', key, fn, opts);

      it('reads, writes with a TTL, deletes, or leaves alone, returning the result', async () => {
        expect(await update<number, string>(store, 'g', (cur) => ({ result: `was ${cur}` }))).toBe(
          'was undefined',
        );
        expect(await store.get('grants', 'g')).toBeUndefined();
        expect(
          await update<number, number>(store, 'g', () => ({ result: 1, set: { value: 1, ttlSeconds: 60 } })),
        ).toBe(1);
        expect(await store.get('grants', 'g')).toBe(1);
        expect(await update<number, number>(store, 'g', (cur) => ({ result: cur ?? -1 }))).toBe(1);
        await update<number, null>(store, 'g', () => ({ result: null, delete: true }));
        expect(await store.get('grants', 'g')).toBeUndefined();
        await update<{ n: number }, null>(store, 'ttl', () => ({
          result: null,
          set: { value: { n: 1 }, ttlSeconds: 1 },
        }));
        await afterExpiry(async () => {
          expect(
            await update<{ n: number }, unknown>(store, 'ttl', (cur) => ({ result: cur })),
          ).toBeUndefined();
        }, 1_500);
      });

      it('writes nothing when fn throws, passing the error through', async () => {
        await store.set('grants', 'g', { v: 1 });
        const failure = new Error('bad record');
        await expect(
          update<{ v: number }, never>(store, 'g', () => {
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.get('grants', 'g')).toEqual({ v: 1 });
        expect(await update<{ v: number }, number>(store, 'g', (cur) => ({ result: cur!.v }))).toBe(1);
      });

      it('loses no increment among 20 concurrent updates on two handles', async () => {
        const other = await second();
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            update<number, null>(other !== undefined && i % 2 === 1 ? other : store, 'n', (cur) => ({
              result: null,
              set: { value: (cur ?? 0) + 1 },
            })),
          ),
        );
        expect(await store.get('grants', 'n')).toBe(20);
      });

      it('waits for a withLock holder of the key, on this handle or another', async () => {
        for (const holderStore of [store, (await second()) ?? store]) {
          await store.set('grants', 'k', 0);
          const held = gate();
          let entered!: () => void;
          const enteredP = new Promise<void>((resolve) => {
            entered = resolve;
          });
          const holder = holderStore.withLock('grants', 'k', async () => {
            entered();
            await held.opened;
            const read = (await holderStore.get<number>('grants', 'k')) ?? 0;
            await holderStore.set('grants', 'k', read + 10);
          });
          await enteredP;
          await expect(
            update<number, null>(store, 'k', (cur) => ({ result: null, set: { value: (cur ?? 0) + 1 } }), {
              timeoutMs: 150,
            }),
          ).rejects.toMatchObject({ name: 'StoreError', code: 'lock_timeout' });
          const waiting = update<number, null>(store, 'k', (cur) => ({
            result: null,
            set: { value: (cur ?? 0) + 1 },
          }));
          await sleep(30);
          held.release();
          await holder;
          await waiting;
          expect(await store.get('grants', 'k')).toBe(11);
        }
      });
    });

    it('shares data with a second handle on the same backing', async () => {
      const other = await second();
      if (other === undefined) return;
      await store.set('tokens', 'k', { v: 1 });
      expect(await other.get('tokens', 'k')).toEqual({ v: 1 });
      await other.delete('tokens', 'k');
      expect(await store.get('tokens', 'k')).toBeUndefined();
    });

    it('closes idempotently, then refuses work with store_unavailable', async () => {
      await store.set('tokens', 'k', 1);
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
      await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(store.set('tokens', 'k', 2)).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(store.withLock('tokens', 'k', async () => 1)).rejects.toMatchObject({
        code: 'store_unavailable',
      });
    });
  });
}

/** The error a promise rejects with (failing the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected a rejection, got a value');
}
