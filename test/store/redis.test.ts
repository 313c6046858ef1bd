import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, openStore, StoreError } from '../../src/store/index.js';
import { describeStoreContract } from './contract.js';
import { expectProcessesNeverInterleave } from './multi-process.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Deletes every key under `prefix`: each test run works under its own. */
async function removePrefix(prefix: string): Promise<void> {
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  await admin.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await admin.quit();
  }
}

const runPrefix = `portcullis-test:${randomUUID()}:`;

describeStoreContract('redis', async () => {
  const prefix = `${runPrefix}${randomUUID()}:`;
  const store = await createRedisStore({ url: REDIS_URL, prefix });
  return {
    store,
    reopen: () => createRedisStore({ url: REDIS_URL, prefix }),
    cleanup: async () => {
      await store.close();
      await removePrefix(prefix);
    },
  };
});

describe('redis store', () => {
  afterAll(async () => {
    await removePrefix(runPrefix);
  });

  it('fails fast with store_unavailable when Redis is down', { timeout: 5_000 }, async () => {
    const failure = createRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 1_000 });
    await expect(failure).rejects.toBeInstanceOf(StoreError);
    await expect(failure).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('fails fast with store_unavailable when Redis goes away under an open store', {
    timeout: 5_000,
  }, async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => {});
    await client.connect();
    const store = await createRedisStore({ client, prefix: `${runPrefix}gone:` });
    client.disconnect();
    await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'store_unavailable' });
    await store.close();
  });

  it('leaves a caller-owned client open on close', async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    await client.connect();
    const store = await createRedisStore({ client, prefix: `${runPrefix}owned:` });
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('sets the TTL natively', async () => {
    const prefix = `${runPrefix}ttl:`;
    const store = await createRedisStore({ url: REDIS_URL, prefix });
    await store.set('pkce', 'state', { verifier: 'v' }, { ttlSeconds: 30 });
    const admin = new Redis(REDIS_URL);
    const ttl = await admin.pttl(`${prefix}kv:pkce:state`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
    await admin.quit();
    await store.close();
  });

  describe('across processes', () => {
    const prefix = `${runPrefix}procs:`;
    beforeAll(async () => {
      await removePrefix(prefix);
    });

    it('never lets two processes inside withLock at once', async () => {
      await expectProcessesNeverInterleave(REDIS_URL, { prefix }, { workers: 3, iterations: 20 });
    });
  });

  it('is what openStore("redis://…") opens', async () => {
    const store = await openStore(REDIS_URL, { prefix: `${runPrefix}open:` });
    await store.set('tokens', 'k', 1);
    expect(await store.get('tokens', 'k')).toBe(1);
    await store.close();
  });
});
