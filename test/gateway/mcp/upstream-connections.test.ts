// The gateway's upstream HTTP/1.1 client (decision 0022) against real servers on 127.0.0.1:0:
// node:http servers, and raw `net` servers where the exact bytes on the wire matter.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ResponseHead, UpstreamProtocolError } from '../../../src/gateway/mcp/http1-response.js';
import {
  createUpstreamConnections,
  type ExchangeHandlers,
  serializeRequestHead,
  type UpstreamConnections,
  type UpstreamConnectionsOptions,
  type UpstreamRequest,
} from '../../../src/gateway/mcp/upstream-connections.js';
import { catchError } from '../helpers.js';

const SECRET = 'secret-token-value';
/** The longest any test waits for one thing to happen. */
const WAIT_MS = 2000;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until it holds, failing after WAIT_MS. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface Listening {
  port: number;
  url: URL;
  /** Connections the server accepted (TLS: completed handshakes), in order. */
  sockets: net.Socket[];
  closed: Set<net.Socket>;
  idOf(socket: net.Socket): number;
}

async function start(server: net.Server): Promise<Listening> {
  const sockets: net.Socket[] = [];
  const all: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  const ids = new Map<net.Socket, number>();
  const secure = server instanceof tls.Server;
  server.on('connection', (s: net.Socket) => {
    all.push(s);
    s.on('error', () => {});
  });
  server.on(secure ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.push(s);
    ids.set(s, sockets.length);
    s.on('close', () => closed.add(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of all) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: new URL(`${secure ? 'https' : 'http'}://127.0.0.1:${port}/mcp`),
    sockets,
    closed,
    idOf: (s) => ids.get(s) ?? 0,
  };
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, up: Listening) => void;

/** A node:http upstream recording what it was sent. */
async function httpUpstream(handler: Handler) {
  const seen: {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: Buffer;
    conn: number;
  }[] = [];
  const server = createServer();
  const up = await start(server);
  server.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    for await (const chunk of req) parts.push(chunk as Buffer);
    const body = Buffer.concat(parts);
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      conn: up.idOf(req.socket),
    });
    handler(req, res, body, up);
  });
  return { ...up, seen, server };
}

interface RawRequest {
  conn: number;
  /** 1 for the first request on its connection. */
  nth: number;
  raw: Buffer;
}

/** A raw TCP upstream: requests are framed by their head and Content-Length, answers are bytes. */
async function rawUpstream(onRequest: (socket: net.Socket, req: RawRequest) => void) {
  const requests: RawRequest[] = [];
  const server = net.createServer();
  const up = await start(server);
  server.on('connection', (socket: net.Socket) => {
    let buf = Buffer.alloc(0);
    let nth = 0;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const m = /\r\ncontent-length: *(\d+)/i.exec(buf.toString('latin1', 0, end));
        const total = end + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < total) return;
        const req = { conn: up.idOf(socket), nth: ++nth, raw: buf.subarray(0, total) };
        buf = buf.subarray(total);
        requests.push(req);
        onRequest(socket, req);
      }
    });
  });
  return { ...up, requests };
}

const okResponse = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

function pool(opts: UpstreamConnectionsOptions): UpstreamConnections {
  const p = createUpstreamConnections(opts);
  cleanups.push(() => p.close());
  return p;
}

const get = (url: URL, path = '/mcp'): UpstreamRequest => ({
  method: 'GET',
  path,
  headers: ['host', url.host, 'accept', 'text/event-stream'],
});

const post = (url: URL, body: Buffer): UpstreamRequest => ({
  method: 'POST',
  path: '/mcp',
  headers: ['host', url.host, 'content-type', 'application/json', 'content-length', String(body.length)],
  body,
});

interface Exchanged {
  events: string[];
  head: ResponseHead | undefined;
  error: Error | undefined;
  body(): Buffer;
  /** Resolves on `end` or `error`, whichever comes (failing after WAIT_MS). */
  settled: Promise<void>;
  exchange: ReturnType<UpstreamConnections['request']>;
}

/** Sends `req`, recording every handler call (also any that would come after the last). */
function send(
  p: UpstreamConnections,
  req: UpstreamRequest,
  hooks: Partial<ExchangeHandlers> = {},
): Exchanged {
  const parts: Buffer[] = [];
  let settle!: () => void;
  const settled = new Promise<void>((r) => {
    settle = r;
  });
  const ex: Exchanged = {
    events: [],
    head: undefined,
    error: undefined,
    body: () => Buffer.concat(parts),
    // Bounded only when awaited: an aborted exchange never settles, and that is no error.
    get settled() {
      return within(settled, 'the exchange to end');
    },
    exchange: undefined as never,
  };
  ex.exchange = p.request(req, {
    response(head) {
      ex.events.push('response');
      ex.head = head;
      hooks.response?.(head);
    },
    data(chunk) {
      ex.events.push('data');
      parts.push(Buffer.from(chunk));
      hooks.data?.(chunk);
    },
    waiting() {
      ex.events.push('waiting');
      hooks.waiting?.();
    },
    end() {
      ex.events.push('end');
      settle();
      hooks.end?.();
    },
    error(err) {
      ex.events.push('error');
      ex.error = err;
      settle();
      hooks.error?.(err);
    },
  });
  return ex;
}

/** Events without the `data` and `waiting` in between, e.g. `response end`. */
const outline = (ex: Exchanged) => ex.events.filter((e) => e !== 'data' && e !== 'waiting').join(' ');

async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('serializeRequestHead', () => {
  it('writes the request line and each header as given', () => {
    expect(
      serializeRequestHead({
        method: 'POST',
        path: '/mcp?x=1&y=%20',
        headers: [
          'host',
          '127.0.0.1:1',
          'content-type',
          'application/json',
          'x-tab',
          'a\tb',
          'x-latin',
          'café',
        ],
      }),
    ).toBe(
      'POST /mcp?x=1&y=%20 HTTP/1.1\r\nhost: 127.0.0.1:1\r\ncontent-type: application/json\r\n' +
        'x-tab: a\tb\r\nx-latin: café\r\n\r\n',
    );
    expect(serializeRequestHead({ method: 'DELETE', path: '/', headers: ['x-empty', ''] })).toBe(
      'DELETE / HTTP/1.1\r\nx-empty: \r\n\r\n',
    );
  });

  it('refuses CR, LF, NUL and other control characters in a value, naming the header, never the value', () => {
    for (const c of ['\r', '\n', '\r\n', '\x00', '\x01', '\x1f', '\x7f', '\u0100', '\u2028']) {
      const req = {
        method: 'GET',
        path: '/mcp',
        headers: ['host', 'h', 'authorization', `Bearer ${SECRET}${c}x: y`],
      };
      const err = catchError(() => serializeRequestHead(req));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toContain('authorization');
      expect((err as Error).message).not.toContain(SECRET);
      expect((err as Error).message).not.toContain('Bearer');
    }
  });

  it('refuses an invalid header name without echoing it or its value', () => {
    for (const name of ['bad name', 'x:y', '', 'x\r\ny', 'tøken', `x-${SECRET}\n`, 'x(y)']) {
      const err = catchError(() =>
        serializeRequestHead({ method: 'GET', path: '/', headers: [name, SECRET] }),
      );
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/invalid header name/);
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it('refuses a bad method', () => {
    for (const method of ['', 'GET ', 'G ET', 'GET\r\n', 'GÉT', '(GET)', `GET /${SECRET}`]) {
      const err = catchError(() => serializeRequestHead({ method, path: '/', headers: [] }));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/invalid request method/);
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it("refuses a target not starting with '/', or with a space or control character", () => {
    for (const path of [
      '',
      `${SECRET}`,
      '*',
      `http://h/${SECRET}`,
      `/${SECRET} x`,
      `/${SECRET} HTTP/1.1\r\nx: y`,
      `/${SECRET}\n`,
      `/${SECRET}\x00`,
      `/${SECRET}\x7f`,
      `/${SECRET}\u0100`,
    ]) {
      const err = catchError(() => serializeRequestHead({ method: 'GET', path, headers: [] }));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/invalid request target/);
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it('request() throws the same before any connection is opened', async () => {
    const up = await httpUpstream((_req, res) => res.end('ok'));
    const p = pool({ url: up.url });
    expect(() =>
      p.request(
        { method: 'GET', path: '/mcp', headers: ['authorization', `${SECRET}\r\nx: y`] },
        noHandlers(),
      ),
    ).toThrow(TypeError);
    await sleep(50);
    expect(up.sockets).toHaveLength(0);
  });
});

describe('requests and responses', () => {
  it('a GET: the request arrives as sent, the response head and body are handed on', async () => {
    const up = await httpUpstream((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Reply': 'yes' });
      res.end('{"ok":true}');
    });
    const p = pool({ url: up.url });
    const ex = send(p, {
      ...get(up.url, '/mcp?session=1'),
      headers: ['host', up.url.host, 'x-trace', 'abc'],
    });
    await ex.settled;
    expect(up.seen).toHaveLength(1);
    expect(up.seen[0]).toMatchObject({ method: 'GET', url: '/mcp?session=1' });
    expect(up.seen[0]!.headers).toMatchObject({ host: up.url.host, 'x-trace': 'abc' });
    expect(ex.head!.status).toBe(200);
    expect(ex.head!.keepAlive).toBe(true);
    const h = ex.head!.headers;
    expect(h[h.indexOf('content-type') + 1]).toBe('application/json');
    expect(h[h.indexOf('x-reply') + 1]).toBe('yes');
    expect(ex.body().toString()).toBe('{"ok":true}');
    expect(outline(ex)).toBe('response end');
    expect(ex.events[1]).toBe('data');
  });

  it('a POST: a large body arrives intact with the Content-Length given, and comes back intact', async () => {
    const up = await httpUpstream((_req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    const p = pool({ url: up.url });
    const body = randomBytes(300 * 1024);
    const ex = send(p, post(up.url, body));
    await ex.settled;
    expect(up.seen[0]!.method).toBe('POST');
    expect(up.seen[0]!.headers['content-length']).toBe(String(body.length));
    expect(up.seen[0]!.body.equals(body)).toBe(true);
    expect(outline(ex)).toBe('response end');
    expect(ex.body().equals(body)).toBe(true);
  });

  it('writes exactly the serialized head (latin1) followed by the body', async () => {
    const up = await rawUpstream((socket) => socket.write(okResponse('ok')));
    const p = pool({ url: up.url });
    const body = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    const req: UpstreamRequest = {
      method: 'POST',
      path: '/mcp?a=b',
      headers: ['host', up.url.host, 'x-latin', 'café', 'content-length', String(body.length)],
      body,
    };
    await send(p, req).settled;
    const expected = Buffer.concat([Buffer.from(serializeRequestHead(req), 'latin1'), body]);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.raw.toString('latin1')).toBe(expected.toString('latin1'));
    expect(up.requests[0]!.raw.equals(expected)).toBe(true);
  });

  it('a body without a length, ended by the upstream closing: handed on whole, then end', async () => {
    const up = await rawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ');
      setTimeout(() => socket.end('second part'), 20);
    });
    const p = pool({ url: up.url });
    const ex = send(p, get(up.url));
    await ex.settled;
    expect(outline(ex)).toBe('response end');
    expect(ex.head!.keepAlive).toBe(false);
    expect(ex.body().toString()).toBe('first part, second part');
    expect(p.idle).toBe(0);
  });
});

describe('keep-alive reuse', () => {
  it('two requests in turn share one connection, kept idle in between', async () => {
    const up = await httpUpstream((_req, res, _body, u) => res.end(`conn ${u.idOf(_req.socket)}`));
    const p = pool({ url: up.url });
    expect(p.idle).toBe(0);
    const a = send(p, get(up.url));
    expect(p.idle).toBe(0);
    await a.settled;
    expect(p.idle).toBe(1);
    const b = send(p, get(up.url));
    expect(p.idle).toBe(0); // checked out
    await b.settled;
    expect(p.idle).toBe(1);
    expect(a.body().toString()).toBe('conn 1');
    expect(b.body().toString()).toBe('conn 1');
    expect(up.sockets).toHaveLength(1);
    expect(up.seen.map((s) => s.conn)).toEqual([1, 1]);
  });

  it('reuses the most recently released connection first (LIFO)', async () => {
    const up = await httpUpstream((req, res, _body, u) => {
      const id = String(u.idOf(req.socket));
      const delay = req.url === '/slow' ? 150 : req.url === '/fast' ? 30 : 0;
      setTimeout(() => res.end(id), delay);
    });
    const p = pool({ url: up.url });
    const fast = send(p, get(up.url, '/fast'));
    const slow = send(p, get(up.url, '/slow'));
    await Promise.all([fast.settled, slow.settled]);
    expect(up.sockets).toHaveLength(2);
    expect(p.idle).toBe(2);
    const fastConn = fast.body().toString();
    const slowConn = slow.body().toString();
    expect(fastConn).not.toBe(slowConn);
    // `slow` was released last, so it goes first; then `fast`.
    const next = send(p, get(up.url, '/now'));
    await next.settled;
    expect(next.body().toString()).toBe(slowConn);
    const both = [send(p, get(up.url, '/slow')), send(p, get(up.url, '/now'))];
    await Promise.all(both.map((x) => x.settled));
    expect(both.map((x) => x.body().toString())).toEqual([slowConn, fastConn]);
    expect(up.sockets).toHaveLength(2);
  });

  it('keeps at most maxIdle connections, closing the rest', async () => {
    const up = await httpUpstream((req, res) =>
      setTimeout(() => res.end('x'), req.url === '/slow' ? 60 : 10),
    );
    const p = pool({ url: up.url, maxIdle: 1 });
    const xs = [send(p, get(up.url, '/fast')), send(p, get(up.url, '/slow'))];
    await Promise.all(xs.map((x) => x.settled));
    expect(up.sockets).toHaveLength(2);
    expect(p.idle).toBe(1);
    await until(() => up.closed.size === 1, 'the extra connection to close');
    // The one kept is the first released; the second was closed.
    expect(up.closed.has(up.sockets[0]!)).toBe(false);
  });

  it('a response with Connection: close is not reused; the client closes the connection itself', async () => {
    // The raw upstream leaves its side open: closing is up to the client.
    const up = await rawUpstream((socket) => socket.write(okResponse('bye', 'Connection: close\r\n')));
    const p = pool({ url: up.url });
    const a = send(p, get(up.url));
    await a.settled;
    expect(a.head!.keepAlive).toBe(false);
    expect(a.body().toString()).toBe('bye');
    expect(p.idle).toBe(0);
    await until(() => up.closed.has(up.sockets[0]!), 'the client to close the connection');
    const b = send(p, get(up.url));
    await b.settled;
    expect(outline(b)).toBe('response end');
    expect(up.sockets).toHaveLength(2);
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('an HTTP/1.0 response is not reused, even with Connection: keep-alive', async () => {
    const up = await rawUpstream((socket) =>
      socket.write('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok'),
    );
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    expect(p.idle).toBe(0);
    await until(() => up.closed.has(up.sockets[0]!), 'the client to close the connection');
    await send(p, get(up.url)).settled;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it("the upstream's Keep-Alive: timeout=1 shortens the idle lifetime (to half of it)", async () => {
    // This upstream never closes anything itself: only the client's own rule can stop the reuse.
    const up = await rawUpstream((socket) => socket.write(okResponse('ok', 'Keep-Alive: timeout=1\r\n')));
    const p = pool({ url: up.url });
    const a = send(p, get(up.url));
    await a.settled;
    expect(a.head!.keepAliveTimeoutMs).toBe(1000);
    await send(p, get(up.url)).settled; // at once: reused
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1]);
    await sleep(600);
    expect(up.closed.size).toBe(0);
    await send(p, get(up.url)).settled; // past 500 ms idle: a new connection
    expect(up.requests.map((r) => r.conn)).toEqual([1, 1, 2]);
    await until(() => up.closed.has(up.sockets[0]!), 'the stale connection to be closed');
  });

  it('idleTimeoutMs bounds how long an idle connection is reused', async () => {
    const up = await httpUpstream((_req, res) => res.end('ok'));
    const p = pool({ url: up.url, idleTimeoutMs: 100 });
    await send(p, get(up.url)).settled;
    await send(p, get(up.url)).settled;
    expect(up.seen.map((s) => s.conn)).toEqual([1, 1]);
    await sleep(250);
    await send(p, get(up.url)).settled;
    expect(up.seen.map((s) => s.conn)).toEqual([1, 1, 2]);
  });

  it('an idle connection the upstream closes is dropped, and the next request opens a new one', async () => {
    const up = await rawUpstream((socket) => {
      socket.write(okResponse('ok'));
      setTimeout(() => socket.end(), 30);
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    expect(p.idle).toBe(1);
    await until(() => p.idle === 0, 'the closed connection to leave the idle list');
    const b = send(p, get(up.url));
    await b.settled;
    expect(outline(b)).toBe('response end');
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });
});

describe('the keep-alive race: a reused connection closed before any byte of the answer', () => {
  for (const [how, close] of [
    ['FIN', (s: net.Socket) => s.end()],
    ['RST', (s: net.Socket) => s.resetAndDestroy()],
  ] as const) {
    it(`is resent once, on a new connection, and succeeds (${how})`, async () => {
      const up = await rawUpstream((socket, req) => {
        if (req.conn === 1 && req.nth === 2) close(socket);
        else socket.write(okResponse(`conn ${req.conn} #${req.nth}`));
      });
      const p = pool({ url: up.url });
      const a = send(p, get(up.url));
      await a.settled;
      expect(a.body().toString()).toBe('conn 1 #1');
      const body = Buffer.from('{"jsonrpc":"2.0","id":2,"method":"tools/call"}');
      const b = send(p, post(up.url, body));
      await b.settled;
      expect(b.events.join(' ')).toBe('response data end');
      expect(b.body().toString()).toBe('conn 2 #1');
      expect(up.requests.map((r) => [r.conn, r.nth])).toEqual([
        [1, 1],
        [1, 2],
        [2, 1],
      ]);
      // The resend is the same request, byte for byte.
      expect(up.requests[2]!.raw.equals(up.requests[1]!.raw)).toBe(true);
      expect(up.requests[2]!.raw.subarray(-body.length).equals(body)).toBe(true);
      expect(up.sockets).toHaveLength(2);
      expect(p.idle).toBe(1);
    });
  }

  it('is resent on a new connection, not on another idle one that may be just as stale', async () => {
    const up = await rawUpstream((socket, req) => {
      if (req.nth === 2) socket.end();
      else socket.write(okResponse(`conn ${req.conn} #${req.nth}`));
    });
    const p = pool({ url: up.url });
    const first = [send(p, get(up.url)), send(p, get(up.url))];
    await Promise.all(first.map((x) => x.settled));
    expect(up.sockets).toHaveLength(2);
    expect(p.idle).toBe(2);
    const b = send(p, get(up.url));
    await b.settled;
    expect(b.events.join(' ')).toBe('response data end');
    expect(b.body().toString()).toBe('conn 3 #1');
    const stale = up.requests[2]!.conn;
    expect(up.requests.slice(2).map((r) => [r.conn, r.nth])).toEqual([
      [stale, 2],
      [3, 1],
    ]);
    expect(p.idle).toBe(2); // the other idle connection, untouched, and the new one
  });

  it('is resent only once: if the new connection also closes unanswered, error', async () => {
    const up = await rawUpstream((socket, req) => {
      if (req.conn === 1 && req.nth === 1) socket.write(okResponse('ok'));
      else socket.end();
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    const b = send(p, get(up.url));
    await b.settled;
    await sleep(100);
    expect(b.events).toEqual(['error']);
    expect(b.error).toBeInstanceOf(UpstreamProtocolError);
    expect(up.sockets).toHaveLength(2);
    expect(up.requests.map((r) => [r.conn, r.nth])).toEqual([
      [1, 1],
      [1, 2],
      [2, 1],
    ]);
  });

  it('a fresh connection refused: one error, no retry', async () => {
    const port = await closedPort();
    const url = new URL(`http://127.0.0.1:${port}/mcp`);
    const p = pool({ url });
    const ex = send(p, get(url));
    await ex.settled;
    await sleep(100);
    expect(ex.events).toEqual(['error']);
    expect((ex.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(p.idle).toBe(0);
  });

  it('a fresh connection closed unanswered: one error, no retry', async () => {
    const up = await rawUpstream((socket) => socket.end());
    const p = pool({ url: up.url });
    const ex = send(p, get(up.url));
    await ex.settled;
    await sleep(100);
    expect(ex.events).toEqual(['error']);
    expect(ex.error).toBeInstanceOf(UpstreamProtocolError);
    expect(up.sockets).toHaveLength(1);
    expect(up.requests).toHaveLength(1);
  });

  it('a reused connection closed mid-response: error, no retry', async () => {
    const up = await rawUpstream((socket, req) => {
      if (req.nth === 1) socket.write(okResponse('ok'));
      else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart');
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    const b = send(p, get(up.url));
    await b.settled;
    await sleep(100);
    expect(outline(b)).toBe('response error');
    expect(b.body().toString()).toBe('part');
    expect(b.error).toBeInstanceOf(UpstreamProtocolError);
    expect(b.error!.message).toMatch(/mid-response/);
    expect(up.sockets).toHaveLength(1);
    expect(up.requests).toHaveLength(2);
  });

  it('a reused connection closed after only part of the head: error, no retry', async () => {
    const up = await rawUpstream((socket, req) => {
      if (req.nth === 1) socket.write(okResponse('ok'));
      else socket.end('HTTP/1.1 200 OK\r\nContent-');
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    const b = send(p, get(up.url));
    await b.settled;
    await sleep(100);
    expect(b.events).toEqual(['error']);
    expect(up.sockets).toHaveLength(1);
    expect(up.requests).toHaveLength(2);
  });

  it('a malformed response on a reused connection: error (no value in it), no retry, connection closed', async () => {
    const up = await rawUpstream((socket, req) => {
      if (req.nth === 1) socket.write(okResponse('ok'));
      else socket.write(`HTTP/1.1 200 OK\r\nX-Token: ${SECRET}\x00\r\nContent-Length: 2\r\n\r\nok`);
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    const b = send(p, get(up.url));
    await b.settled;
    expect(b.events).toEqual(['error']);
    expect(b.error).toBeInstanceOf(UpstreamProtocolError);
    expect(b.error!.message).not.toContain(SECRET);
    await until(() => up.closed.has(up.sockets[0]!), 'the client to close the connection');
    expect(up.sockets).toHaveLength(1);
    expect(p.idle).toBe(0);
  });
});

describe('stray bytes', () => {
  it('after a complete response, in the same read: the response ends, the connection is not reused', async () => {
    const up = await rawUpstream((socket, req) =>
      socket.write(`${okResponse(`#${req.conn}`)}HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray`),
    );
    const p = pool({ url: up.url });
    let idleAtEnd = -1;
    const a = send(p, get(up.url), { end: () => (idleAtEnd = p.idle) });
    await a.settled;
    expect(outline(a)).toBe('response end');
    expect(a.body().toString()).toBe('#1');
    expect(idleAtEnd).toBe(0);
    await until(() => up.closed.has(up.sockets[0]!), 'the client to close the connection');
    const b = send(p, get(up.url));
    await b.settled;
    expect(b.body().toString()).toBe('#2');
    expect(up.sockets).toHaveLength(2);
  });

  it('arriving later, while the connection is idle: the connection is closed and dropped', async () => {
    const up = await rawUpstream((socket) => {
      socket.write(okResponse('ok'));
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n'), 50);
    });
    const p = pool({ url: up.url });
    await send(p, get(up.url)).settled;
    expect(p.idle).toBe(1);
    await until(() => up.closed.has(up.sockets[0]!), 'the client to close the connection');
    expect(p.idle).toBe(0);
    await send(p, get(up.url)).settled;
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });
});

describe('abort, backpressure and waiting', () => {
  it('abort() mid-stream closes the connection, and no handler is called after it', async () => {
    // Two events in quick succession (often one read), then silence: only the abort can close it.
    const up = await httpUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.write('data: 2\n\n');
    });
    const p = pool({ url: up.url });
    const ex: Exchanged = send(p, get(up.url), { data: () => ex.exchange.abort() });
    await until(
      () => up.sockets.length === 1 && up.closed.has(up.sockets[0]!),
      'the upstream to see the close',
    );
    await sleep(50);
    expect(ex.events).toEqual(['response', 'data']);
    expect(ex.body().toString()).toBe('data: 1\n\n');
    expect(p.idle).toBe(0);
    ex.exchange.abort(); // again: harmless
    expect(ex.events).toEqual(['response', 'data']);
  });

  it('abort() before the answer: the connection is closed, no handler is ever called', async () => {
    const up = await rawUpstream(() => {}); // never answers
    const p = pool({ url: up.url });
    const ex = send(p, get(up.url));
    await until(() => up.requests.length === 1, 'the request to arrive');
    ex.exchange.abort();
    await until(() => up.closed.has(up.sockets[0]!), 'the upstream to see the close');
    await sleep(50);
    expect(ex.events).toEqual([]);
    expect(p.idle).toBe(0);
  });

  it('abort() from a handler as the response completes: no end follows, the connection is not kept', async () => {
    const up = await rawUpstream((socket, req) =>
      socket.write(req.conn === 1 ? 'HTTP/1.1 204 No Content\r\n\r\n' : okResponse('last')),
    );
    const p = pool({ url: up.url });
    // On a 204 the head is the whole response: abort from response(), as a relay refusing it would.
    const a: Exchanged = send(p, get(up.url), { response: () => a.exchange.abort() });
    await until(() => up.closed.has(up.sockets[0]!), 'the upstream to see the close');
    await sleep(50);
    expect(a.events).toEqual(['response']);
    expect(p.idle).toBe(0);
    // Abort from data() on the body's last bytes.
    const b: Exchanged = send(p, get(up.url), { data: () => b.exchange.abort() });
    await until(() => up.sockets.length === 2 && up.closed.has(up.sockets[1]!), 'the second close');
    await sleep(50);
    expect(b.events).toEqual(['response', 'data']);
    expect(p.idle).toBe(0);
    expect(up.requests.map((r) => r.conn)).toEqual([1, 2]);
  });

  it('pause() stops the data until resume(); then every byte arrives, in order', async () => {
    const CHUNK = 64 * 1024;
    const COUNT = 128;
    const expected = Buffer.concat(Array.from({ length: COUNT }, (_, i) => Buffer.alloc(CHUNK, i % 251)));
    const up = await httpUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked
      for (let i = 0; i < COUNT; i++) {
        if (!res.write(expected.subarray(i * CHUNK, (i + 1) * CHUNK))) await once(res, 'drain');
      }
      res.end();
    });
    const p = pool({ url: up.url });
    let received = 0;
    let atPause = -1;
    const ex: Exchanged = send(p, get(up.url), {
      data: (chunk) => {
        received += chunk.length;
        if (atPause === -1 && received >= 512 * 1024) {
          atPause = -2;
          ex.exchange.pause();
          setImmediate(() => {
            atPause = received;
          });
        }
      },
    });
    await until(() => atPause >= 0, 'the exchange to pause');
    await sleep(300);
    expect(received).toBe(atPause);
    expect(received).toBeLessThan(expected.length);
    expect(ex.events).not.toContain('end');
    ex.exchange.resume();
    await ex.settled;
    expect(outline(ex)).toBe('response end');
    expect(received).toBe(expected.length);
    expect(ex.body().equals(expected)).toBe(true);
    expect(p.idle).toBe(1);
  });

  it('waiting() is called when the head arrives alone, before its delayed body', async () => {
    const up = await httpUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '4' });
      res.flushHeaders();
      setTimeout(() => res.end('body'), 100);
    });
    const p = pool({ url: up.url });
    let bodyAtWaiting: number | undefined;
    const ex: Exchanged = send(p, get(up.url), { waiting: () => (bodyAtWaiting ??= ex.body().length) });
    await ex.settled;
    expect(ex.events).toEqual(['response', 'waiting', 'data', 'end']);
    expect(bodyAtWaiting).toBe(0);
    expect(ex.body().toString()).toBe('body');
  });

  it('waiting() is not called when the whole response arrives at once', async () => {
    const up = await httpUpstream((_req, res) => res.end('all at once'));
    const p = pool({ url: up.url });
    const ex = send(p, get(up.url));
    await ex.settled;
    expect(ex.events).toEqual(['response', 'data', 'end']);
  });
});

describe('close()', () => {
  it('destroys the idle connections and keeps no new ones; requests still work', async () => {
    const up = await httpUpstream((req, res) =>
      setTimeout(() => res.end('ok'), req.url === '/slow' ? 40 : 5),
    );
    const p = createUpstreamConnections({ url: up.url });
    cleanups.push(() => p.close());
    await Promise.all([send(p, get(up.url, '/fast')).settled, send(p, get(up.url, '/slow')).settled]);
    expect(p.idle).toBe(2);
    expect(up.closed.size).toBe(0);
    p.close();
    expect(p.idle).toBe(0);
    await until(() => up.closed.size === 2, 'the upstream to see both connections close');
    const after = send(p, get(up.url));
    await after.settled;
    expect(outline(after)).toBe('response end');
    expect(p.idle).toBe(0);
    await until(() => up.closed.size === 3, 'the new connection to close too');
  });
});

function noHandlers(): ExchangeHandlers {
  return { response() {}, data() {}, end() {}, error() {} };
}

describe('connect timeout', () => {
  it('an upstream that accepts but never completes the TLS handshake: error once the timeout passes', async () => {
    const silent = await start(net.createServer((socket) => socket.resume())); // reads, never answers
    const url = new URL(`https://127.0.0.1:${silent.port}/mcp`);
    const p = pool({ url, connectTimeoutMs: 150 });
    const ex = send(p, get(url));
    await within(ex.settled, 'the exchange to fail');
    expect(ex.events).toEqual(['error']);
    expect(ex.error!.message).toMatch(/within 150 ms/);
    await until(() => silent.closed.size === 1, 'the upstream to see the connection close');
  });

  it('counts only the connecting: a slow answer on an open connection is not cut', async () => {
    const up = await rawUpstream((socket) => {
      setTimeout(() => socket.write(okResponse('slow')), 300);
    });
    const p = pool({ url: up.url, connectTimeoutMs: 100 });
    const ex = send(p, get(up.url));
    await within(ex.settled, 'the slow answer');
    expect(outline(ex)).toBe('response end');
    expect(ex.error).toBeUndefined();
    expect(ex.body().toString()).toBe('slow');
  });
});

const hasOpenssl = (() => {
  try {
    execFileSync('which', ['openssl'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('TLS', () => {
  let key: Buffer;
  let cert: Buffer;

  beforeAll(() => {
    // A throwaway self-signed certificate for 127.0.0.1 (an IP SAN: no SNI is sent for an IP).
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-upstream-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '2',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      key = readFileSync(join(dir, 'key.pem'));
      cert = readFileSync(join(dir, 'cert.pem'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function httpsUpstream() {
    const server = createHttpsServer({ key, cert });
    const up = await start(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => res.end(`tls conn ${up.idOf(req.socket)}`));
    });
    return up;
  }

  it('an https upstream with a private CA works, and its connection is reused', async () => {
    const up = await httpsUpstream();
    const p = pool({ url: up.url, tls: { ca: cert } });
    const a = send(p, get(up.url));
    await a.settled;
    expect(outline(a)).toBe('response end');
    expect(a.body().toString()).toBe('tls conn 1');
    const b = send(p, get(up.url));
    await b.settled;
    expect(b.body().toString()).toBe('tls conn 1');
    expect(up.sockets).toHaveLength(1);
    expect(p.idle).toBe(1);
  });

  it('without the CA, the self-signed certificate is refused: one error', async () => {
    const up = await httpsUpstream();
    const p = pool({ url: up.url });
    const ex = send(p, get(up.url));
    await ex.settled;
    await sleep(100);
    expect(ex.events).toEqual(['error']);
    expect((ex.error as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|CERT/);
    expect(up.sockets).toHaveLength(0); // no handshake completed, no request served
  });
});
