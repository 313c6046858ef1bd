/**
 * `startWebHost`: the example web host on node:http — the connection manager with this app's
 * callback URL, the fake sessions, and the routes — started in-process (the test does so on port 0)
 * or by server.ts from the environment.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ConnectionManager, createConnectionManager } from '../../src/client/manager.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import type { Store } from '../../src/store/store.js';
import { type CatalogueServer, createWebHostHandler } from './routes.js';
import { createSessions } from './session.js';

export type { CatalogueServer } from './routes.js';

export interface WebHostOptions {
  /** Where tokens, registrations and pending logins live: Postgres here, wrapped with encryption. */
  store: Store;
  /** The MCP servers this host offers; each user adds, connects and removes them. */
  servers: readonly CatalogueServer[];
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The origin browsers see, when behind a proxy (https in production); default `http://host:port`. */
  publicOrigin?: string;
  /** Signs session cookies and CSRF tokens; default random, so a restart signs everyone out. */
  sessionSecret?: Uint8Array;
  /** 32 bytes mixed into the key sealing pending logins' PKCE verifiers. */
  encryptionKey?: Uint8Array;
  logger?: Logger;
}

export interface WebHost {
  readonly origin: string;
  readonly manager: ConnectionManager;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = options.publicOrigin ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const manager = createConnectionManager({
    store: options.store,
    redirectUri: `${origin}/oauth/callback`,
    ...(options.encryptionKey ? { encryptionKey: options.encryptionKey } : {}),
    clientInfo: { name: 'portcullis web-host example', version: '1.0.0' },
    logger,
  });
  // What a UI would react to; logged with ids only (the authorization URL carries `state`).
  manager.events.on('authorized', (d) =>
    logger.info({ serverId: d.key.serverId, issuer: d.issuer }, 'authorized'),
  );
  manager.events.on('token_refreshed', (d) => logger.debug({ serverId: d.key.serverId }, 'token refreshed'));
  manager.events.on('reauth_required', (d) =>
    logger.warn({ serverId: d.key.serverId, reason: d.reason }, 'refresh refused: reconnect needed'),
  );

  const handle = createWebHostHandler({
    origin,
    manager,
    sessions: createSessions({ secret: options.sessionSecret ?? randomBytes(32), origin }),
    servers: options.servers,
    logger,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    serve(handle, origin, req, res).catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.name : typeof err }, 'response failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  return {
    origin,
    manager,
    async close() {
      await manager.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}

/** node:http → Fetch `Request` → handler → node:http, so the routes stay `(Request) => Response`. */
async function serve(
  handle: (request: Request) => Promise<Response>,
  origin: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  // Only the path and query of the request line, appended to our origin: neither an absolute-form
  // target nor a `//host` path may choose another origin.
  const target = req.url?.startsWith('/') ? req.url : '/';
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headersDistinct)) {
    for (const v of value ?? []) headers.append(name, v);
  }
  let body: string | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    body = Buffer.concat(chunks).toString('utf8'); // JSON only
  }
  const response = await handle(
    new Request(`${origin}${target}`, { method, headers, ...(body !== undefined ? { body } : {}) }),
  );
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}
