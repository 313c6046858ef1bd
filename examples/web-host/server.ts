/**
 * Runs the example web host from the environment:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
 *   MCP_SERVERS='[{"id":"demo","name":"Demo","url":"http://127.0.0.1:3001/mcp"}]' \
 *   PORT=3000 node --import tsx examples/web-host/server.ts
 *
 * Optional: DATABASE_SCHEMA (default `portcullis_web_host`), HOST, PUBLIC_ORIGIN (behind a proxy),
 * PORTCULLIS_KEY (the at-rest key; else a 0600 key file in the state directory).
 */
import { hkdfSync } from 'node:crypto';
import pino from 'pino';
import { z } from 'zod';
import { createEncryptedStore, loadEncryptionKey } from '../../src/store/encrypted.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import { startWebHost } from './app.js';

const serversSchema = z.array(
  z.object({
    id: z.string().regex(/^[a-z0-9-]{1,40}$/, 'an id is 1–40 of a-z 0-9 -'),
    name: z.string().min(1).optional(),
    url: z.url(),
  }),
);

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const env = process.env;
const databaseUrl =
  env['DATABASE_URL'] ?? fail('set DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/test');
let servers: z.infer<typeof serversSchema>;
try {
  servers = serversSchema.parse(JSON.parse(env['MCP_SERVERS'] ?? '[]'));
} catch (err) {
  fail(`MCP_SERVERS must be a JSON array of { id, name?, url }: ${err instanceof Error ? err.message : err}`);
}
if (servers.length === 0) fail('set MCP_SERVERS, e.g. [{"id":"demo","url":"https://mcp.example.com/mcp"}]');

const logger = pino({ level: env['LOG_LEVEL'] ?? 'info' });
const key = await loadEncryptionKey();
// Tokens, client secrets and pending logins are sealed before they reach Postgres.
const store = createEncryptedStore(
  await createPostgresStore({
    connectionString: databaseUrl,
    schema: env['DATABASE_SCHEMA'] ?? 'portcullis_web_host',
  }),
  { key },
);
const host = await startWebHost({
  store,
  servers: servers.map((s) => ({ id: s.id, url: s.url, ...(s.name ? { name: s.name } : {}) })),
  port: Number(env['PORT'] ?? 3000),
  ...(env['HOST'] ? { host: env['HOST'] } : {}),
  ...(env['PUBLIC_ORIGIN'] ? { publicOrigin: env['PUBLIC_ORIGIN'] } : {}),
  // One key, one purpose: the web flow's verifier-sealing key is derived from the store's (RFC 5869).
  encryptionKey: new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), 'portcullis web-host: pkce', 32)),
  logger,
});
logger.info(
  { origin: host.origin, servers: servers.map((s) => s.id) },
  `web host listening on ${host.origin}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    host
      .close()
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
}
