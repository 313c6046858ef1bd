/**
 * The gateway's HTTP/1.1 client for its one upstream: keep-alive connections reused last-in
 * first-out, one exchange at a time on each, the request written in one `writev`, the response
 * read by `ResponseParser` and handed on chunk by chunk with backpressure. It exists because
 * node:http's client machinery (ClientRequest, Agent, IncomingMessage streams) was the largest
 * cost left on the proxy's hot path — decision 0022.
 *
 * Safety rules: every header name and value is checked before it is written (no CR, LF or other
 * control character can reach the wire); a connection is reused only after a response that
 * completed cleanly, allowed it, and left no stray bytes; a request is resent only in the
 * keep-alive race — a reused connection that closed before any byte of the answer — and only once,
 * on a new connection.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { HTTP_TOKEN } from '../../http-syntax.js';
import { type ResponseHead, ResponseParser, UpstreamProtocolError } from './http1-response.js';

export interface UpstreamRequest {
  method: string;
  /** Origin-form request target: path and query. */
  path: string;
  /** Flat `name, value, …`, names lower-case; `host` and `content-length` included by the caller. */
  headers: readonly string[];
  body?: Buffer | undefined;
}

/** Callbacks for one exchange. `error` or `end` comes once, last; `response` before any `data`. */
export interface ExchangeHandlers {
  response(head: ResponseHead): void;
  data(chunk: Buffer): void;
  /** Everything read so far was handed on, and more is awaited (a stream between events). */
  waiting?(): void;
  end(): void;
  error(err: Error): void;
}

export interface Exchange {
  /** Stop reading the response (backpressure); `resume` continues. */
  pause(): void;
  resume(): void;
  /** Abandon the exchange: its connection is closed, and no handler is called any more. */
  abort(): void;
}

/** TLS settings for an https upstream (a private CA, a client certificate, a minimum version). */
export type UpstreamTlsOptions = Pick<
  tls.ConnectionOptions,
  'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'servername' | 'rejectUnauthorized' | 'minVersion'
>;

export interface UpstreamConnectionsOptions {
  url: URL;
  tls?: UpstreamTlsOptions | undefined;
  /** Idle connections kept for reuse. Default 256 (node's Agent default). */
  maxIdle?: number | undefined;
  /** How long an idle connection is kept, unless the upstream's `Keep-Alive: timeout` is shorter. Default 30 s. */
  idleTimeoutMs?: number;
  /** How long opening a connection may take, TLS handshake included. Default 10 s. */
  connectTimeoutMs?: number | undefined;
}

export interface UpstreamConnections {
  request(req: UpstreamRequest, handlers: ExchangeHandlers): Exchange;
  /** Idle connections kept now. */
  readonly idle: number;
  /** Closes idle connections and stops keeping new ones; exchanges in flight run to their end. */
  close(): void;
}

/** Leave an idle connection this long (at most half its time) before the upstream's keep-alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 1000;
const SWEEP_EVERY_MS = 5000;

const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** The request head, after checking each header: a CR or LF in a value would split the request. */
export function serializeRequestHead(req: UpstreamRequest): string {
  if (!HTTP_TOKEN.test(req.method)) throw new TypeError('invalid request method');
  if (BAD_VALUE.test(req.path) || req.path.includes(' ') || req.path[0] !== '/') {
    throw new TypeError('invalid request target');
  }
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    const value = h[i + 1]!;
    if (!HTTP_TOKEN.test(name)) throw new TypeError('invalid header name for the MCP server');
    // The name only: the value may be a credential.
    if (BAD_VALUE.test(value))
      throw new TypeError(`invalid character in the ${name} header for the MCP server`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

class Connection {
  readonly parser = new ResponseParser();
  /** Requests this connection has been given, the current one included. */
  served = 0;
  exchange: ExchangeImpl | undefined;
  /** When an idle connection is no longer trusted to be open (ms since epoch). */
  idleUntil = 0;
  dead = false;

  constructor(
    readonly socket: net.Socket,
    readonly pool: Pool,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.onClose(err));
    socket.on('close', () => this.onClose(undefined));
  }

  onData(chunk: Buffer): void {
    const x = this.exchange;
    if (!x) {
      // Bytes nobody asked for: the connection cannot be trusted with another request.
      this.destroy();
      return;
    }
    let used: number;
    try {
      used = this.parser.execute(chunk);
    } catch (err) {
      this.destroy();
      x.fail(err as Error, false);
      return;
    }
    if (this.parser.done) {
      const reusable = this.parser.reusable && used === chunk.length && !this.dead;
      this.exchange = undefined;
      if (reusable) this.pool.release(this);
      else this.destroy();
      x.finish();
    } else if (this.exchange === x && x.responded) {
      x.handlers?.waiting?.();
    }
  }

  onEnd(): void {
    const x = this.exchange;
    if (x) {
      try {
        this.parser.end(); // completes a close-delimited body
        this.exchange = undefined;
        this.destroy();
        x.finish();
        return;
      } catch (err) {
        this.exchange = undefined;
        this.destroy();
        x.fail(err as Error, this.served > 1 && !this.parser.started);
        return;
      }
    }
    this.destroy();
  }

  onClose(err: Error | undefined): void {
    if (!this.dead) {
      this.dead = true;
      this.pool.forget(this);
    }
    const x = this.exchange;
    if (!x) return;
    this.exchange = undefined;
    this.socket.destroy();
    // The keep-alive race: a reused connection closed before any byte of the answer, so the
    // upstream never took the request in. Anything else is the exchange's failure.
    x.fail(
      err ?? new UpstreamProtocolError('the MCP server closed the connection'),
      this.served > 1 && !this.parser.started,
    );
  }

  destroy(): void {
    if (!this.dead) {
      this.dead = true;
      this.pool.forget(this);
    }
    this.socket.destroy();
  }
}

class ExchangeImpl implements Exchange {
  conn: Connection | undefined;
  handlers: ExchangeHandlers | undefined;
  responded = false;
  retried = false;

  constructor(
    readonly pool: Pool,
    readonly req: UpstreamRequest,
    readonly requestHead: string,
    handlers: ExchangeHandlers,
  ) {
    this.handlers = handlers;
  }

  start(conn: Connection): void {
    this.conn = conn;
    conn.exchange = this;
    conn.served++;
    conn.parser.reset(this);
    const { socket } = conn;
    socket.cork();
    socket.write(this.requestHead, 'latin1');
    if (this.req.body && this.req.body.length > 0) socket.write(this.req.body);
    socket.uncork();
  }

  // ResponseSink, called by the parser.
  head(head: ResponseHead): void {
    this.responded = true;
    if (this.conn && head.keepAliveTimeoutMs !== undefined)
      this.conn.pool.noteKeepAlive(head.keepAliveTimeoutMs);
    this.handlers?.response(head);
  }

  body(chunk: Buffer): void {
    this.handlers?.data(chunk);
  }

  complete(): void {
    // `finish` is called by the connection once it has decided the connection's fate.
  }

  finish(): void {
    const h = this.handlers;
    this.handlers = undefined;
    this.conn = undefined;
    h?.end();
  }

  fail(err: Error, mayRetry: boolean): void {
    this.conn = undefined;
    if (!this.handlers) return;
    if (mayRetry && !this.retried && !this.responded) {
      this.retried = true;
      this.start(this.pool.fresh());
      return;
    }
    const h = this.handlers;
    this.handlers = undefined;
    h.error(err);
  }

  pause(): void {
    this.conn?.socket.pause();
  }

  resume(): void {
    this.conn?.socket.resume();
  }

  abort(): void {
    this.handlers = undefined;
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      conn.exchange = undefined;
      conn.parser.halt();
      conn.destroy();
    }
  }
}

class Pool implements UpstreamConnections {
  readonly #idle: Connection[] = [];
  readonly #connect: () => net.Socket;
  /** The event that says a new connection is ready for requests. */
  readonly #readyEvent: 'connect' | 'secureConnect';
  readonly #connectTimeoutMs: number;
  readonly #maxIdle: number;
  #idleTimeoutMs: number;
  #closed = false;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(opts: UpstreamConnectionsOptions) {
    const { url } = opts;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.protocol === 'https:') {
      const port = Number(url.port || 443);
      const servername = net.isIP(host) ? undefined : host;
      this.#connect = () => tls.connect({ host, port, servername, ALPNProtocols: ['http/1.1'], ...opts.tls });
      this.#readyEvent = 'secureConnect';
    } else if (url.protocol === 'http:') {
      const port = Number(url.port || 80);
      this.#connect = () => net.connect({ host, port });
      this.#readyEvent = 'connect';
    } else {
      throw new TypeError(`MCP upstream must be an http(s) URL, not ${url.protocol}`);
    }
    this.#maxIdle = opts.maxIdle ?? 256;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  }

  get idle(): number {
    return this.#idle.length;
  }

  request(req: UpstreamRequest, handlers: ExchangeHandlers): Exchange {
    const x = new ExchangeImpl(this, req, serializeRequestHead(req), handlers);
    x.start(this.#checkout());
    return x;
  }

  /** The most recently used idle connection still trusted to be open, else a new one. */
  #checkout(): Connection {
    const now = Date.now();
    for (;;) {
      const conn = this.#idle.pop();
      if (!conn) return this.fresh();
      if (!conn.dead && now < conn.idleUntil) return conn;
      conn.destroy();
    }
  }

  fresh(): Connection {
    const socket = this.#connect();
    socket.setNoDelay(true);
    // A host that drops packets would otherwise hold the request for the OS's TCP timeout (minutes).
    const timer = setTimeout(() => {
      socket.destroy(new Error(`no connection to the MCP server within ${this.#connectTimeoutMs} ms`));
    }, this.#connectTimeoutMs);
    const settle = () => clearTimeout(timer);
    socket.once(this.#readyEvent, settle);
    socket.once('close', settle);
    return new Connection(socket, this);
  }

  release(conn: Connection): void {
    if (this.#closed || this.#idle.length >= this.#maxIdle) {
      conn.destroy();
      return;
    }
    const now = Date.now();
    conn.idleUntil = now + this.#idleTimeoutMs;
    if (conn.socket.isPaused()) conn.socket.resume(); // an idle connection must still see the upstream close it
    this.#idle.push(conn);
    this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_EVERY_MS).unref();
  }

  forget(conn: Connection): void {
    const i = this.#idle.lastIndexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  /** The upstream announced how long it keeps idle connections: leave them before it does. */
  noteKeepAlive(timeoutMs: number): void {
    const limit = timeoutMs - Math.min(KEEP_ALIVE_MARGIN_MS, timeoutMs / 2);
    if (limit < this.#idleTimeoutMs) this.#idleTimeoutMs = limit;
  }

  #sweep(): void {
    const now = Date.now();
    for (const conn of [...this.#idle]) if (now >= conn.idleUntil) conn.destroy();
    if (this.#idle.length === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  close(): void {
    this.#closed = true;
    for (const conn of [...this.#idle]) conn.destroy();
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

export function createUpstreamConnections(opts: UpstreamConnectionsOptions): UpstreamConnections {
  return new Pool(opts);
}
