// A stand-in for the gateway's front half: a node:http server on 127.0.0.1:0 that maps a bearer
// token to a fake principal (no OAuth here) and hands the request to an McpEndpoint, either
// through the fetch-style `handle` (converting Request/Response as a framework would) or the
// node:http `handleNode` fast path. Plus a header-recording tap in front of an upstream.
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { McpEndpoint, McpPrincipal } from '../../../src/gateway/mcp/types.js';
import { OAuthError } from '../../../src/oauth/errors.js';

export type HarnessMode = 'web' | 'node';

export interface Harness {
  url: string;
  origin: string;
  port: number;
  stop(): Promise<void>;
}

export function fakePrincipal(
  userId: string,
  opts: Partial<Omit<McpPrincipal, 'upstreamAccessToken'>> & { upstreamToken?: string } = {},
): McpPrincipal {
  return {
    userId,
    clientId: opts.clientId ?? `client-of-${userId}`,
    scopes: opts.scopes ?? ['mcp:read', 'mcp:write'],
    resource: opts.resource ?? 'http://127.0.0.1/mcp',
    claims: opts.claims ?? { sub: userId, email: `${userId}@example.test` },
    upstreamAccessToken: async () =>
      opts.upstreamToken === undefined ? `upstream-token-of-${userId}` : opts.upstreamToken || undefined,
  };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function stopServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The gateway stand-in: `Authorization: Bearer <token>` → principal, then the endpoint. */
export async function startHarness(
  endpoint: McpEndpoint,
  principals: Record<string, McpPrincipal>,
  mode: HarnessMode,
): Promise<Harness> {
  const server = createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const principal = token ? principals[token] : undefined;
    if (!principal) {
      res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
      return;
    }
    const served =
      mode === 'node' && endpoint.handleNode
        ? endpoint.handleNode(req, res, principal)
        : serveWeb(endpoint, req, res, principal);
    served.catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      const status = err instanceof OAuthError ? err.status : 500;
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: String(err) }));
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    origin: `http://127.0.0.1:${port}`,
    port,
    stop: () => stopServer(server),
  };
}

async function serveWeb(
  endpoint: McpEndpoint,
  req: IncomingMessage,
  res: ServerResponse,
  principal: McpPrincipal,
) {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const hasBody = req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH';
  const init: RequestInit & { duplex: 'half' } = {
    method: req.method ?? 'GET',
    headers,
    signal: abort.signal,
    duplex: 'half',
  };
  if (hasBody) init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  const response = await endpoint.handle(
    new Request(`http://${req.headers.host}${req.url}`, init),
    principal,
  );
  res.writeHead(response.status, [...response.headers].flat());
  if (!response.body) return void res.end();
  res.flushHeaders();
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
    res.end();
  } catch {
    res.destroy();
  }
}

export interface TappedRequest {
  method: string;
  headers: IncomingMessage['headers'];
  /** Resolves when the upstream leg of this request is closed (finished or aborted). */
  closed: Promise<void>;
}

/** A recording pass-through in front of an upstream: which headers did the upstream really get? */
export async function startTap(
  target: string,
): Promise<{ url: string; requests: TappedRequest[]; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const requests: TappedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? 'GET',
      headers: req.headers,
      closed: once(res, 'close').then(() => {}),
    });
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname,
        method: req.method,
        headers: req.headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.flushHeaders();
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}${upstream.pathname}`, requests, stop: () => stopServer(server) };
}

/** Waits for a condition, re-checking on a short interval a bounded number of times. */
export async function eventually<T>(
  probe: () => T | undefined | false,
  what: string,
  tries = 200,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
