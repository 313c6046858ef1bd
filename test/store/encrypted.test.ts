import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createEncryptedStore,
  createFileStore,
  createMemoryStore,
  loadEncryptionKey,
  type Store,
  StoreError,
} from '../../src/store/index.js';
import { describeStoreContract, manualClock, rejectionOf } from './contract.js';

describeStoreContract('encrypted(memory)', async () => {
  const clock = manualClock();
  const store = createEncryptedStore(createMemoryStore({ clock: clock.now }), { key: randomBytes(32) });
  return { store, clock, cleanup: () => store.close() };
});

describeStoreContract('encrypted(file)', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-enc-'));
  const key = randomBytes(32);
  const clock = manualClock();
  const store = createEncryptedStore(await createFileStore({ dir, clock: clock.now }), { key });
  return {
    store,
    clock,
    reopen: async () => createEncryptedStore(await createFileStore({ dir, clock: clock.now }), { key }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('encrypted store', () => {
  let inner: Store;
  let store: Store;
  const key = randomBytes(32);

  beforeEach(() => {
    inner = createMemoryStore();
    store = createEncryptedStore(inner, { key });
  });

  it('stores ciphertext only: no plaintext reaches the backend', async () => {
    await store.set('tokens', 'https://mcp.example.com', {
      access_token: 'sk-live-PLAINTEXT',
      scope: 'read',
    });
    const stored = await inner.get<Record<string, unknown>>('tokens', 'https://mcp.example.com');
    expect(stored).toMatchObject({ v: 1 });
    expect(Object.keys(stored!).sort()).toEqual(['ct', 'iv', 'tag', 'v']);
    expect(JSON.stringify(stored)).not.toContain('PLAINTEXT');
    expect(JSON.stringify(stored)).not.toContain('scope');
    expect(Buffer.from(stored!['iv'] as string, 'base64url')).toHaveLength(12);
    expect(Buffer.from(stored!['tag'] as string, 'base64url')).toHaveLength(16);
  });

  it('uses a fresh IV for every write', async () => {
    await store.set('tokens', 'a', 'same');
    await store.set('tokens', 'b', 'same');
    const a = await inner.get<{ iv: string; ct: string }>('tokens', 'a');
    const b = await inner.get<{ iv: string; ct: string }>('tokens', 'b');
    expect(a!.iv).not.toBe(b!.iv);
    expect(a!.ct).not.toBe(b!.ct);
  });

  it('fails with decrypt_failed on a tampered value', async () => {
    await store.set('tokens', 'k', { access_token: 'at' });
    const sealed = (await inner.get<{ v: 1; iv: string; tag: string; ct: string }>('tokens', 'k'))!;
    const ct = Buffer.from(sealed.ct, 'base64url');
    ct[0] = (ct[0] ?? 0) ^ 1;
    await inner.set('tokens', 'k', { ...sealed, ct: ct.toString('base64url') });
    await expect(store.get('tokens', 'k')).rejects.toMatchObject({
      name: 'StoreError',
      code: 'decrypt_failed',
    });
    // A truncated tag is refused too (GCM must not accept short tags).
    await inner.set('tokens', 'k', { ...sealed, tag: sealed.tag.slice(0, 8) });
    await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'decrypt_failed' });
    await inner.set('tokens', 'k', { something: 'else' });
    await expect(store.take('tokens', 'k')).rejects.toMatchObject({ code: 'decrypt_failed' });
  });

  it('fails with decrypt_failed on a value moved to another key or namespace', async () => {
    await store.set('tokens', 'https://a.example', { access_token: 'for a' });
    const sealed = await inner.get('tokens', 'https://a.example');
    await inner.set('tokens', 'https://b.example', sealed);
    await inner.set('clients', 'https://a.example', sealed);
    await expect(store.get('tokens', 'https://b.example')).rejects.toMatchObject({ code: 'decrypt_failed' });
    await expect(store.get('clients', 'https://a.example')).rejects.toMatchObject({ code: 'decrypt_failed' });
  });

  it('fails with decrypt_failed under a wrong key', async () => {
    await store.set('tokens', 'k', 'v');
    const other = createEncryptedStore(inner, { key: randomBytes(32) });
    await expect(other.get('tokens', 'k')).rejects.toBeInstanceOf(StoreError);
    await expect(other.get('tokens', 'k')).rejects.toMatchObject({ code: 'decrypt_failed' });
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => createEncryptedStore(inner, { key: randomBytes(16) })).toThrow(RangeError);
  });
});

describe('loadEncryptionKey', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-key-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const key = randomBytes(32);

  it('reads PORTCULLIS_KEY as base64, base64url or hex', async () => {
    for (const encoded of [key.toString('base64'), key.toString('base64url'), key.toString('hex')]) {
      const loaded = await loadEncryptionKey({
        env: { PORTCULLIS_KEY: encoded },
        keyFile: path.join(dir, 'k'),
      });
      expect(loaded.equals(key)).toBe(true);
    }
    expect(await readdir(dir)).toEqual([]); // the env var wins: no key file made
  });

  it('refuses a malformed PORTCULLIS_KEY without echoing it', async () => {
    for (const bad of ['hunter2-not-a-key', randomBytes(16).toString('base64'), `${key.toString('hex')}00`]) {
      const failure = loadEncryptionKey({ env: { PORTCULLIS_KEY: bad } });
      await expect(failure).rejects.toMatchObject({ code: 'store_unavailable' });
      const err = await rejectionOf(failure);
      expect(err.message).toContain('PORTCULLIS_KEY');
      expect(err.message).toContain('32 bytes');
      expect(err.message).not.toContain(bad);
      expect(err.message).not.toContain(bad.slice(0, 8));
    }
  });

  it('creates a 0600 key file on first use and reuses it', async () => {
    const keyFile = path.join(dir, 'nested', 'store.key');
    const first = await loadEncryptionKey({ env: {}, keyFile });
    expect(first).toHaveLength(32);
    if (process.platform !== 'win32') {
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(keyFile))).mode & 0o777).toBe(0o700);
    }
    const second = await loadEncryptionKey({ env: {}, keyFile });
    expect(second.equals(first)).toBe(true);
  });

  it('gives every racing loader the same key', async () => {
    const keyFile = path.join(dir, 'store.key');
    const keys = await Promise.all(Array.from({ length: 10 }, () => loadEncryptionKey({ env: {}, keyFile })));
    for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
  });

  it('defaults the key file into $PORTCULLIS_HOME', async () => {
    const loaded = await loadEncryptionKey({ env: { PORTCULLIS_HOME: dir } });
    expect((await readFile(path.join(dir, 'store.key'), 'utf8')).trim()).toBe(loaded.toString('base64url'));
  });

  it('refuses a key file with a malformed key, naming the file but not its contents', async () => {
    const keyFile = path.join(dir, 'store.key');
    await writeFile(keyFile, 'this-is-not-a-valid-key-but-is-long-enough-to-not-be-partial');
    const failure = loadEncryptionKey({ env: {}, keyFile });
    await expect(failure).rejects.toMatchObject({ code: 'store_unavailable' });
    const err = await rejectionOf(failure);
    expect(err.message).toContain(keyFile);
    expect(err.message).not.toContain('not-a-valid');
  });
});
