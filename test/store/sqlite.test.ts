import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore, openStore } from '../../src/store/index.js';
import { describeStoreContract, manualClock } from './contract.js';
import { expectProcessesNeverInterleave, runScript } from './multi-process.js';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'portcullis-sqlite-'));
}

describeStoreContract('sqlite', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'state.db');
  const clock = manualClock();
  const store = await createSqliteStore({ path: file, clock: clock.now });
  return {
    store,
    clock,
    reopen: () => createSqliteStore({ path: file, clock: clock.now }),
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeStoreContract('sqlite (:memory:)', async () => {
  const clock = manualClock();
  const store = await createSqliteStore({ path: ':memory:', clock: clock.now });
  return { store, clock, cleanup: () => store.close() };
});

describe('sqlite store', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  (process.platform === 'win32' ? it.skip : it)('creates its directory 0700 and database 0600', async () => {
    const file = path.join(dir, 'nested', 'state.db');
    const previous = process.umask(0o000);
    let store: Awaited<ReturnType<typeof createSqliteStore>>;
    try {
      store = await createSqliteStore({ path: file });
      await store.set('tokens', 'k', 'secret');
    } finally {
      process.umask(previous);
    }
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it('fails with store_unavailable on a file that is not a database', async () => {
    const file = path.join(dir, 'not.db');
    await writeFile(file, 'this is not an SQLite database, just some text that is long enough'.repeat(20));
    await expect(createSqliteStore({ path: file })).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('reports a value that is not JSON as corrupt_value', async () => {
    const file = path.join(dir, 'state.db');
    const store = await createSqliteStore({ path: file });
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(file);
    raw.prepare("INSERT INTO kv (ns, key, value) VALUES ('tokens', 'k', '{not json')").run();
    raw.close();
    await expect(store.get('tokens', 'k')).rejects.toMatchObject({ code: 'corrupt_value' });
    await store.close();
  });

  it('never lets two processes inside withLock at once', async () => {
    const file = path.join(dir, 'shared.db');
    await (await createSqliteStore({ path: file })).close(); // create the schema before the workers race
    await expectProcessesNeverInterleave(`sqlite:${file}`, {}, { workers: 3, iterations: 20 });
  });

  it('never runs an update inside another process holding withLock on the key', async () => {
    const file = path.join(dir, 'update.db');
    const store = await createSqliteStore({ path: file });
    const spec = `sqlite:${file}`;
    const runs = await Promise.all(
      Array.from({ length: 3 }, () =>
        runScript('update-worker.ts', [JSON.stringify({ spec, iterations: 30 })]),
      ),
    );
    for (const run of runs) expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(await store.get('counter', 'n')).toBe(90);
    await store.close();
  });

  it('is what openStore("sqlite:…") opens', async () => {
    const store = await openStore(`sqlite:${path.join(dir, 'open.db')}`);
    await store.set('tokens', 'k', 1);
    expect(await store.get('tokens', 'k')).toBe(1);
    await store.close();
  });
});
