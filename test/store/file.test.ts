import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileStore, defaultStateDir, type Store, safeFileName } from '../../src/store/index.js';
import { describeStoreContract, manualClock, rejectionOf } from './contract.js';
import { expectProcessesNeverInterleave, runScript } from './multi-process.js';

const posixOnly = process.platform === 'win32' ? it.skip : it;

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'portcullis-file-'));
}

describeStoreContract('file', async () => {
  const dir = await tempDir();
  const clock = manualClock();
  const store = await createFileStore({ dir, clock: clock.now });
  return {
    store,
    clock,
    reopen: () => createFileStore({ dir, clock: clock.now }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('safeFileName', () => {
  it('is a readable slug plus 16 hex digits of sha256', () => {
    expect(safeFileName('https://mcp.example.com/mcp')).toMatch(/^https-mcp\.example\.com-mcp-[0-9a-f]{16}$/);
  });

  it('never gives two distinct keys the same name, even when their slugs agree', () => {
    const keys = ['a/b', 'a?b', 'a b', 'A/B', 'a//b', 'x'.repeat(100), `${'x'.repeat(100)}y`];
    expect(new Set(keys.map(safeFileName)).size).toBe(keys.length);
  });

  it('is valid on Windows, macOS and Linux for any key', () => {
    for (const key of [
      '',
      '.',
      '..',
      '../../etc/passwd',
      'CON',
      'nul',
      'a<b>c:d"e|f?g*h\\i',
      ' trailing. ',
      '東京',
    ]) {
      const name = safeFileName(key);
      expect(name).toMatch(/^[a-z0-9][a-z0-9._-]*-[0-9a-f]{16}$/);
      expect(name.length).toBeLessThanOrEqual(60 + 17);
    }
    expect(safeFileName('x'.repeat(10_000)).length).toBe(60 + 17);
  });
});

describe('defaultStateDir', () => {
  it('prefers $PORTCULLIS_HOME', () => {
    expect(
      defaultStateDir({ env: { PORTCULLIS_HOME: '/srv/pc' }, platform: 'linux', homedir: '/home/u' }),
    ).toBe('/srv/pc');
  });

  it('uses the platform configuration directory', () => {
    expect(defaultStateDir({ env: {}, platform: 'linux', homedir: '/home/u' })).toBe(
      '/home/u/.config/portcullis',
    );
    expect(
      defaultStateDir({ env: { XDG_CONFIG_HOME: '/x/cfg' }, platform: 'linux', homedir: '/home/u' }),
    ).toBe('/x/cfg/portcullis');
    expect(
      defaultStateDir({ env: { XDG_CONFIG_HOME: 'relative' }, platform: 'linux', homedir: '/home/u' }),
    ).toBe('/home/u/.config/portcullis');
    expect(defaultStateDir({ env: {}, platform: 'darwin', homedir: '/Users/u' })).toBe(
      '/Users/u/Library/Application Support/portcullis',
    );
    expect(
      defaultStateDir({
        env: { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' },
        platform: 'win32',
        homedir: 'C:\\Users\\u',
      }),
    ).toBe('C:\\Users\\u\\AppData\\Roaming\\portcullis');
  });
});

describe('file store', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = await tempDir();
    store = await createFileStore({ dir: path.join(dir, 'state') });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function entryFiles(ns: string): Promise<string[]> {
    return readdir(path.join(dir, 'state', ns));
  }

  it('lays out one JSON file per entry, holding the original key', async () => {
    await store.set('tokens', 'https://mcp.example.com/mcp', { access_token: 'at' }, { ttlSeconds: 60 });
    const name = `${safeFileName('https://mcp.example.com/mcp')}.json`;
    expect(await entryFiles('tokens')).toEqual([name]);
    const envelope = JSON.parse(await readFile(path.join(dir, 'state', 'tokens', name), 'utf8'));
    expect(envelope).toMatchObject({ key: 'https://mcp.example.com/mcp', value: { access_token: 'at' } });
    expect(typeof envelope.expiresAt).toBe('number');
  });

  it('hashes a namespace that is not a plain lowercase word', async () => {
    await store.set('Weird/NS', 'k', 1);
    expect(await readdir(path.join(dir, 'state'))).toEqual([safeFileName('Weird/NS')]);
  });

  posixOnly('creates directories 0700 and files 0600, whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      await store.set('tokens', 'k', 'secret');
    } finally {
      process.umask(previous);
    }
    expect((await stat(path.join(dir, 'state'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'state', 'tokens'))).mode & 0o777).toBe(0o700);
    const [file] = await entryFiles('tokens');
    expect((await stat(path.join(dir, 'state', 'tokens', file!))).mode & 0o777).toBe(0o600);
  });

  it('leaves the previous value intact when a writer is killed between write and rename', async () => {
    await store.set('tokens', 'https://mcp.example.com', { generation: 1 });
    const crash = await runScript('crash-writer.ts', [
      path.join(dir, 'state'),
      'tokens',
      'https://mcp.example.com',
      JSON.stringify({ generation: 2 }),
    ]);
    expect(crash.signal, crash.stderr).toBe('SIGKILL');

    const leftovers = (await entryFiles('tokens')).filter((name) => name.endsWith('.tmp'));
    expect(leftovers).toHaveLength(1); // the killed writer's temp file, complete but unpublished
    expect(await store.get('tokens', 'https://mcp.example.com')).toEqual({ generation: 1 });
    expect(await store.list('tokens')).toEqual(['https://mcp.example.com']);

    // A recent temp file may belong to a live writer and stays; an old one is swept by list.
    const leftover = path.join(dir, 'state', 'tokens', leftovers[0]!);
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(leftover, anHourAgo, anHourAgo);
    expect(await store.list('tokens')).toEqual(['https://mcp.example.com']);
    expect((await entryFiles('tokens')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('names the file of a corrupt entry, never its contents', async () => {
    await store.set('tokens', 'k', 'v');
    const [name] = await entryFiles('tokens');
    const file = path.join(dir, 'state', 'tokens', name!);
    await writeFile(file, '{"key":"k","value":"sk-live-SECRET');
    const failure = store.get('tokens', 'k');
    await expect(failure).rejects.toMatchObject({ name: 'StoreError', code: 'corrupt_value' });
    const err = await rejectionOf(failure);
    expect(err.message).toContain(file);
    expect(err.message).not.toContain('SECRET');
    expect(String(err.cause ?? '')).not.toContain('SECRET');
    await expect(store.list('tokens')).rejects.toMatchObject({ code: 'corrupt_value' });
  });

  it('reports an entry that holds another key than its file name says as corrupt', async () => {
    await store.set('tokens', 'a', 'for a');
    await store.set('tokens', 'b', 'for b');
    const nameA = `${safeFileName('a')}.json`;
    const nameB = `${safeFileName('b')}.json`;
    await writeFile(
      path.join(dir, 'state', 'tokens', nameA),
      await readFile(path.join(dir, 'state', 'tokens', nameB), 'utf8'),
    );
    await expect(store.get('tokens', 'a')).rejects.toMatchObject({ code: 'corrupt_value' });
  });

  it('fails with store_unavailable when the directory cannot be used', async () => {
    const notADir = path.join(dir, 'a-file');
    await writeFile(notADir, 'x');
    await expect(createFileStore({ dir: notADir })).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(createFileStore({ dir: path.join(notADir, 'below') })).rejects.toMatchObject({
      code: 'store_unavailable',
    });
  });

  it('fails with store_unavailable when a namespace path is not a directory', async () => {
    await writeFile(path.join(dir, 'state', 'tokens'), 'in the way');
    await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.set('tokens', 'k', 1)).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.list('tokens')).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(store.withLock('tokens', 'k', async () => 1)).rejects.toMatchObject({
      code: 'store_unavailable',
    });
  });

  const runsAsRoot = process.getuid?.() === 0;
  (process.platform === 'win32' || runsAsRoot ? it.skip : it)(
    'fails with store_unavailable on a namespace directory it may not read',
    async () => {
      await mkdir(path.join(dir, 'state', 'tokens'), { mode: 0o000 });
      await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'store_unavailable' });
      await expect(store.list('tokens')).rejects.toMatchObject({ code: 'store_unavailable' });
    },
  );

  it('ignores lock directories and hidden files when listing', async () => {
    await store.withLock('tokens', 'k', async () => {
      await store.set('tokens', 'k', 1);
      expect((await entryFiles('tokens')).some((name) => name.endsWith('.lock'))).toBe(true);
      expect(await store.list('tokens')).toEqual(['k']);
    });
  });

  it('never lets two processes inside withLock at once', async () => {
    await expectProcessesNeverInterleave(
      `file:${path.join(dir, 'shared')}`,
      {},
      { workers: 3, iterations: 20 },
    );
  });
});
