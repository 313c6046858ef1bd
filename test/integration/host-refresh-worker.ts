// One "host process" for host-shared-store.test.ts: opens the shared Postgres or Redis store, builds
// a connection manager on it (no interactive login: the parent logged in), says `ready`, waits for
// `go` on stdin, makes its calls at once, and prints what it saw as one JSON line.
import { createInterface } from 'node:readline';
import { keyStore } from '../../src/client/key-store.js';
import { createConnectionManager } from '../../src/client/manager.js';
import { readServerState } from '../../src/client/state.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import { createRedisStore } from '../../src/store/redis.js';

interface WorkerArgs {
  backend: 'postgres' | 'redis';
  url: string;
  schema?: string;
  prefix?: string;
  userId: string;
  serverId: string;
  calls: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
const store =
  args.backend === 'postgres'
    ? await createPostgresStore({
        connectionString: args.url,
        ...(args.schema ? { schema: args.schema } : {}),
      })
    : await createRedisStore({ url: args.url, ...(args.prefix ? { prefix: args.prefix } : {}) });
const key = { userId: args.userId, serverId: args.serverId };
const manager = createConnectionManager({ store, interactionFor: () => undefined });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write('ready\n');
await lines.next();

const results = await Promise.all(Array.from({ length: args.calls }, () => manager.callTool(key, 'whoami')));
const [status] = await manager.list(args.userId);
const { tokens } = await readServerState(keyStore(store, key), status!.url);
process.stdout.write(
  `${JSON.stringify({
    subjects: [...new Set(results.map((r) => String(r.content[0]?.['text'])))],
    accessToken: tokens?.accessToken,
    expiresAt: tokens?.expiresAt,
  })}\n`,
);
await manager.closeAll();
await store.close();
process.exit(0);
