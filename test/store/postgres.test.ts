import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresStore, openStore, StoreError } from '../../src/store/index.js';
import { describeStoreContract } from './contract.js';
import { expectProcessesNeverInterleave } from './multi-process.js';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Every store in this run gets its own schema, dropped afterwards. */
function freshSchema(): string {
  return `portcullis_test_${randomUUID().replace(/-/g, '')}`;
}

const schemas: string[] = [];
function trackedSchema(): string {
  const schema = freshSchema();
  schemas.push(schema);
  return schema;
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

describeStoreContract('postgres', async () => {
  const schema = freshSchema();
  const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema });
  return {
    store,
    reopen: () => createPostgresStore({ connectionString: POSTGRES_URL, schema }),
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});

describe('postgres store', () => {
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
  });

  it('fails fast with store_unavailable when Postgres is down', { timeout: 5_000 }, async () => {
    const failure = createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    await expect(failure).rejects.toBeInstanceOf(StoreError);
    await expect(failure).rejects.toMatchObject({ code: 'store_unavailable' });
  });

  it('migrates idempotently when several processes start at once', async () => {
    const schema = trackedSchema();
    const stores = await Promise.all(
      Array.from({ length: 5 }, () => createPostgresStore({ connectionString: POSTGRES_URL, schema })),
    );
    await stores[0]!.set('tokens', 'k', { v: 1 });
    expect(await stores[4]!.get('tokens', 'k')).toEqual({ v: 1 });
    for (const store of stores) await store.close();
    const again = await createPostgresStore({ connectionString: POSTGRES_URL, schema });
    expect(await again.get('tokens', 'k')).toEqual({ v: 1 });
    await again.close();
  });

  it('stores values as jsonb with a server-side expiry', async () => {
    const schema = trackedSchema();
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema });
    await store.set('pkce', 'state', { verifier: 'v' }, { ttlSeconds: 60 });
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const { rows } = await client.query(
      `SELECT value, pg_typeof(value)::text AS type, expires_at > now() AS future FROM "${schema}".portcullis_kv`,
    );
    await client.end();
    expect(rows).toEqual([{ value: { verifier: 'v' }, type: 'jsonb', future: true }]);
    await store.close();
  });

  it('refuses a value jsonb cannot hold with a TypeError, not as an outage', async () => {
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema: trackedSchema() });
    await expect(store.set('tokens', 'k', { text: 'nul \u0000 inside' })).rejects.toThrow(TypeError);
    await store.close();
  });

  it('leaves a caller-owned pool open on close', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL });
    const store = await createPostgresStore({ pool, schema: trackedSchema() });
    await store.withLock('refresh', 'k', async () => {});
    await store.close();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it('never lets two processes inside withLock at once', async () => {
    const schema = trackedSchema();
    await (await createPostgresStore({ connectionString: POSTGRES_URL, schema })).close();
    await expectProcessesNeverInterleave(POSTGRES_URL, { schema }, { workers: 3, iterations: 20 });
  });

  it('is what openStore("postgresql://…") opens', async () => {
    const store = await openStore(POSTGRES_URL.replace('postgres:', 'postgresql:'), {
      schema: trackedSchema(),
    });
    await store.set('tokens', 'k', 1);
    expect(await store.get('tokens', 'k')).toBe(1);
    await store.close();
  });
});
