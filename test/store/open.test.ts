import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { rejectionOf } from './contract.js';

describe('openStore', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-open-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens memory:', async () => {
    const store = await openStore('memory:');
    await store.set('tokens', 'k', 1);
    expect(await store.get('tokens', 'k')).toBe(1);
    await store.close();
  });

  it('opens file:<dir> and file:///<dir>', async () => {
    for (const spec of [`file:${path.join(dir, 'a')}`, pathToFileURL(path.join(dir, 'b')).href]) {
      const store = await openStore(spec);
      await store.set('tokens', 'k', spec);
      expect(await store.get('tokens', 'k')).toBe(spec);
      await store.close();
    }
    expect((await readdir(dir)).sort()).toEqual(['a', 'b']);
  });

  it('wraps the backend in encryption when given a key', async () => {
    const key = randomBytes(32);
    const spec = `file:${dir}`;
    const encrypted = await openStore(spec, { encryptionKey: key });
    await encrypted.set('tokens', 'k', { access_token: 'PLAINTEXT' });
    const plain = await openStore(spec);
    expect(JSON.stringify(await plain.get('tokens', 'k'))).not.toContain('PLAINTEXT');
    expect(await encrypted.get('tokens', 'k')).toEqual({ access_token: 'PLAINTEXT' });
    await encrypted.close();
    await plain.close();
  });

  it('refuses an unknown scheme, echoing the scheme but never the rest', async () => {
    const failure = openStore('mysql://admin:hunter2@db.example/x');
    await expect(failure).rejects.toThrow(TypeError);
    const err = await rejectionOf(failure);
    expect(err.message).toContain('mysql:');
    expect(err.message).not.toContain('hunter2');
    await expect(openStore('no-scheme-at-all')).rejects.toThrow(TypeError);
    await expect(openStore('sqlite:')).rejects.toThrow(TypeError);
  });
});

describe('optional drivers', () => {
  afterEach(() => {
    vi.doUnmock('better-sqlite3');
    vi.doUnmock('ioredis');
    vi.doUnmock('pg');
    vi.resetModules();
  });

  const missing = (name: string) => () => {
    throw Object.assign(new Error(`Cannot find package '${name}'`), { code: 'ERR_MODULE_NOT_FOUND' });
  };

  it('says to install better-sqlite3 when it is absent', async () => {
    vi.resetModules();
    vi.doMock('better-sqlite3', missing('better-sqlite3'));
    const { createSqliteStore } = await import('../../src/store/sqlite.js');
    await expect(createSqliteStore({ path: ':memory:' })).rejects.toMatchObject({
      code: 'store_unavailable',
      message: 'install better-sqlite3 to use the sqlite store',
    });
  });

  it('says to install ioredis when it is absent', async () => {
    vi.resetModules();
    vi.doMock('ioredis', missing('ioredis'));
    const { createRedisStore } = await import('../../src/store/redis.js');
    await expect(createRedisStore({ url: 'redis://127.0.0.1:6379' })).rejects.toMatchObject({
      code: 'store_unavailable',
      message: 'install ioredis to use the redis store',
    });
  });

  it('says to install pg when it is absent', async () => {
    vi.resetModules();
    vi.doMock('pg', missing('pg'));
    const { createPostgresStore } = await import('../../src/store/postgres.js');
    await expect(
      createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }),
    ).rejects.toMatchObject({
      code: 'store_unavailable',
      message: 'install pg to use the postgres store',
    });
  });
});
