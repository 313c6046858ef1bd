// Host processes sharing one Postgres (and, separately, one Redis) refresh the same expired,
// rotating refresh token at once: exactly one refresh reaches the AS, and every caller ends up
// with a valid token. Then the same with 50 concurrent calls inside one process.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createConnectionManager } from '../../src/client/manager.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import { createRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/store.js';
import { browserLogin, expireAccessToken, startProtectedServer, storedFor, textOf } from './host-setup.js';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = 'redis://127.0.0.1:6379';
const here = path.dirname(fileURLToPath(import.meta.url));
const key = { userId: 'alice@example.test', serverId: 'fixture' };

interface Backend {
  name: 'postgres' | 'redis';
  open(): Promise<{ store: Store; worker: Record<string, string>; drop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'postgres',
    async open() {
      const schema = `portcullis_host_${randomUUID().replace(/-/g, '')}`;
      const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema });
      return {
        store,
        worker: { url: POSTGRES_URL, schema },
        async drop() {
          await store.close();
          const client = new pg.Client({ connectionString: POSTGRES_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await client.end();
        },
      };
    },
  },
  {
    name: 'redis',
    async open() {
      const prefix = `portcullis-test:host:${randomUUID()}:`;
      const store = await createRedisStore({ url: REDIS_URL, prefix });
      return {
        store,
        worker: { url: REDIS_URL, prefix },
        async drop() {
          await store.close();
          const admin = new Redis(REDIS_URL);
          const keys = await admin.keys(`${prefix}*`);
          if (keys.length) await admin.del(...keys);
          await admin.quit();
        },
      };
    },
  },
];

/** Starts a worker and resolves once it said `ready`. */
async function startWorker(args: Record<string, unknown>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'host-refresh-worker.ts'), JSON.stringify(args)],
    { cwd: path.resolve(here, '../..'), stdio: 'pipe' },
  );
  onTestFinished(() => {
    if (child.exitCode === null) child.kill();
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const first = await Promise.race([lines.next(), exited.then(() => ({ value: undefined }))]);
  if (first.value !== 'ready') throw new Error(`worker did not start: ${stderr}`);
  return {
    go: () => child.stdin.write('go\n'),
    async result() {
      const line = await lines.next();
      const code = await exited;
      expect(code, stderr).toBe(0);
      return JSON.parse(String(line.value)) as { subjects: string[]; accessToken: string; expiresAt: number };
    },
  };
}

describe.each(backends)('hosts sharing $name', (backend) => {
  it('two processes refreshing the same expired rotating token at once: one refresh reaches the AS', {
    timeout: 60_000,
  }, async () => {
    const { as, mcp } = await startProtectedServer();
    const { store, worker, drop } = await backend.open();
    onTestFinished(drop);
    const host = createConnectionManager({ store, interactionFor: () => browserLogin('alice') });
    await host.addServer({ ...key, url: mcp.url });
    await host.connect(key);
    await host.closeAll();
    const stale = await expireAccessToken(store, key, mcp.url);
    as.requests.reset();

    const workers = await Promise.all(
      [1, 2].map(() => startWorker({ backend: backend.name, ...worker, ...key, calls: 1 })),
    );
    for (const w of workers) w.go();
    const results = await Promise.all(workers.map((w) => w.result()));

    expect(as.requests.grants('refresh_token')).toBe(1);
    expect(as.requests.grants('authorization_code')).toBe(0);
    const { tokens } = await storedFor(store, key, mcp.url);
    for (const result of results) {
      expect(result.subjects).toEqual(['alice']);
      expect(result.accessToken).toBe(tokens?.accessToken);
    }
    expect(tokens?.accessToken).not.toBe(stale.accessToken);
    expect(tokens?.refreshToken).not.toBe(stale.refreshToken);
    expect(tokens?.expiresAt).toBeGreaterThan(Date.now());
  });

  it('50 concurrent calls in one process share one refresh and one session', {
    timeout: 60_000,
  }, async () => {
    const { as, mcp } = await startProtectedServer();
    const { store, drop } = await backend.open();
    onTestFinished(drop);
    const first = createConnectionManager({ store, interactionFor: () => browserLogin('alice') });
    await first.addServer({ ...key, url: mcp.url });
    await first.connect(key);
    await first.closeAll();
    const stale = await expireAccessToken(store, key, mcp.url);
    as.requests.reset();
    const sessionsBefore = mcp.requests.filter((r) => r.rpcMethods.includes('initialize')).length;

    const host = createConnectionManager({ store, interactionFor: () => undefined });
    onTestFinished(() => host.closeAll());
    const results = await Promise.all(Array.from({ length: 50 }, () => host.callTool(key, 'whoami')));

    expect(new Set(results.map(textOf))).toEqual(new Set(['alice']));
    expect(as.requests.grants('refresh_token')).toBe(1);
    expect(mcp.requests.filter((r) => r.rpcMethods.includes('initialize')).length - sessionsBefore).toBe(1);
    const { tokens } = await storedFor(store, key, mcp.url);
    expect(tokens?.accessToken).not.toBe(stale.accessToken);
    expect(tokens?.expiresAt).toBeGreaterThan(Date.now());
  });
});
