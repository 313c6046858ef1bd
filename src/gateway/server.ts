/**
 * A small node:http server around a gateway. Requests become fetch `Request`s (bodies streamed,
 * aborted when the client goes away) and responses are streamed back without buffering; the
 * MCP path takes the MCP side's node:http fast path when it has one, after the same front door.
 * `close()` shuts down gracefully: stop accepting, let the MCP side drain its streams and reap
 * its children, wait for in-flight responses (bounded), then cut what is left.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { type Logger, silentLogger } from '../logger.js';
import { OAuthError } from '../oauth/errors.js';
import type { HeaderSource } from './context.js';
import { admitMcpRequest } from './endpoints/mcp.js';
import { renderError } from './errors.js';
import type { Gateway } from './gateway.js';
import { McpHttpError } from './mcp/jsonrpc.js';
import { writeNodeError } from './mcp/render.js';

export interface GatewayServerOptions {
  port?: number;
  /** Default 127.0.0.1 (transports §Security Warning: bind loopback when local). */
  host?: string;
  /** How long `close()` waits for in-flight responses before cutting them. Default 10 s. */
  drainTimeoutMs?: number;
  logger?: Logger;
}

export interface GatewayServer {
  server: Server;
  port: number;
  /** `http://host:port` the server listens on. */
  url: string;
  close(): Promise<void>;
}

/** Starts listening; `gateway` may be supplied later (dev mode needs the port to build its issuer). */
export async function startGatewayServer(
  gateway: Gateway | (() => Gateway | undefined),
  opts: GatewayServerOptions = {},
): Promise<GatewayServer> {
  const logger = opts.logger ?? silentLogger;
  const current = typeof gateway === 'function' ? gateway : () => gateway;
  const inFlight = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    const gw = current();
    if (!gw) {
      res.writeHead(503).end();
      return;
    }
    serve(gw, req, res).catch((err) => {
      logger.error({ err }, 'request failed');
      if (!res.headersSent) void writeResponse(res, renderError(err, { kind: 'json' }, logger), false);
      else res.destroy();
    });
  });
  server.requestTimeout = 0; // SSE streams stay open; idle sockets are handled by keep-alive timeouts
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const gw = current();
        await gw?.internals.closeMcp(); // the MCP side drains its streams and reaps its children
        const deadline = new Promise<void>((resolve) =>
          setTimeout(resolve, opts.drainTimeoutMs ?? 10_000).unref(),
        );
        await Promise.race([drained(inFlight), deadline]);
        server.closeAllConnections();
        await stopped;
        await gw?.close();
      })();
      return closing;
    },
  };
}

async function drained(inFlight: Set<ServerResponse>): Promise<void> {
  while (inFlight.size > 0) {
    await Promise.all(
      [...inFlight].map((res) =>
        res.closed ? undefined : new Promise<void>((resolve) => res.once('close', resolve)),
      ),
    );
    for (const res of inFlight) if (res.closed) inFlight.delete(res);
  }
}

async function serve(gateway: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = gateway.internals.token;
  if (req.method === 'POST' && rawPath(req.url) === token.path) {
    // The hot AS endpoint: plain JSON in and out, no fetch objects (the answers `handle` gives).
    const remote = req.socket.remoteAddress;
    const answer = await token.serve(
      nodeHeaders(req),
      () => readBounded(req, gateway.config.maxBodyBytes),
      remote ? { remoteAddress: remote } : {},
    );
    res
      .writeHead(answer.status, {
        ...answer.headers,
        'Content-Length': String(Buffer.byteLength(answer.body)),
      })
      .end(answer.body);
    return;
  }
  const { ctx, door } = gateway.internals;
  const target = req.url ?? '/';
  const mcp = ctx.mcp;
  // The hot MCP path is matched on the raw target; anything unusual goes the general way below.
  if (mcp?.handleNode && req.method !== 'OPTIONS' && rawPath(target) === gateway.config.mcpPath) {
    const admission = await admitMcpRequest(
      { origin: req.headers.origin, host: req.headers.host, authorization: req.headers.authorization },
      ctx,
      door,
    );
    if (!admission.ok) {
      req.resume();
      return writeResponse(res, admission.response, false);
    }
    // R14/R15: the client's token goes no further, in the parsed headers or the raw ones.
    delete req.headers.authorization;
    withoutRawAuthorization(req.rawHeaders);
    if (target.includes('?')) {
      const url = new URL(target, 'http://gateway.invalid');
      if (url.searchParams.has('access_token')) {
        url.searchParams.delete('access_token');
        req.url = `${url.pathname}${url.search}`;
      }
    }
    for (const name in admission.cors) res.setHeader(name, admission.cors[name]!);
    try {
      await mcp.handleNode(req, res, admission.principal);
    } catch (err) {
      if (res.headersSent) throw err;
      if (err instanceof McpHttpError) writeNodeError(res, err);
      else
        await writeResponse(
          res,
          renderError(err, { kind: 'json', headers: admission.cors }, ctx.logger),
          false,
        );
    }
    return;
  }
  const url = new URL(target, new URL(gateway.config.issuer).origin);
  const remoteAddress = req.socket.remoteAddress;
  const isMcp = url.pathname === gateway.config.mcpPath;
  // Only the MCP path has long-lived work to cancel when the client goes away.
  const abort = isMcp ? new AbortController() : undefined;
  if (abort) res.on('close', () => res.writableFinished || abort.abort());
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const one of v) headers.append(k, one);
    else if (v !== undefined) headers.set(k, v);
  }
  let body: BodyInit | undefined;
  if (hasBody && isMcp) {
    body = Readable.toWeb(req) as ReadableStream<Uint8Array>; // the MCP side streams
  } else if (hasBody) {
    // AS endpoints read small bodies whole: buffer here (bounded) rather than stream through web streams.
    const buffered = await readBounded(req, gateway.config.maxBodyBytes);
    if (buffered === undefined) {
      const err = new OAuthError(
        'invalid_request',
        `request body is larger than ${gateway.config.maxBodyBytes} bytes`,
        {
          status: 413,
        },
      );
      return writeResponse(res, renderError(err, { kind: 'json' }, ctx.logger), false);
    }
    body = buffered as Uint8Array<ArrayBuffer>;
  }
  const request = new Request(url, {
    method: req.method ?? 'GET',
    headers,
    ...(abort ? { signal: abort.signal } : {}),
    ...(body !== undefined ? { body, duplex: 'half' } : {}),
  } as RequestInit);
  const response = await gateway.handle(request, remoteAddress ? { remoteAddress } : {});
  await writeResponse(res, response, isMcp);
}

/** The path of an origin-form request target, as sent (anything else goes the general way). */
function rawPath(target: string | undefined): string | undefined {
  if (target === undefined || target[0] !== '/') return undefined;
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

/** Removes every `Authorization` pair from node's flat `rawHeaders` list, in place. */
function withoutRawAuthorization(raw: string[]): void {
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') raw.splice(i, 2);
  }
}

/** Request headers as the endpoints read them (`HeaderSource`), straight from node:http. */
function nodeHeaders(req: IncomingMessage): HeaderSource {
  return {
    get(name) {
      const value = req.headers[name.toLowerCase()];
      if (value === undefined) return null;
      // Joined as fetch `Headers.get` joins them (node:http already joins most repeated headers).
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** The whole body, or undefined once it passes `limit` (the rest is left unread; the socket closes). */
async function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return undefined;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        done();
        req.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      reject(new Error('the request closed before its body ended'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Writes a fetch Response to node:http: streamed chunk by chunk (stopping if the client goes
 * away) for the MCP path, in one write for the AS's small JSON and HTML answers.
 */
async function writeResponse(res: ServerResponse, response: Response, stream = true): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  if (!response.body) {
    res.writeHead(response.status, headers).end();
    return;
  }
  if (!stream) {
    const bytes = Buffer.from(await response.arrayBuffer());
    headers['content-length'] = String(bytes.length);
    res.writeHead(response.status, headers).end(bytes);
    return;
  }
  res.writeHead(response.status, headers);
  const reader = response.body.getReader();
  res.on('close', () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value))
        await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (res.destroyed) break;
    }
    res.end();
  } catch {
    res.destroy();
  }
}
