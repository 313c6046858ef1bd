/**
 * The HTTP+SSE client transport of MCP 2024-11-05 (deprecated since 2025-03-26, still deployed):
 * GET the URL for an SSE stream whose first `endpoint` event names where to POST messages;
 * server messages arrive as `message` events on that one stream. The stream is the session:
 * when it is lost, `onsessionexpired` fires and the next `initialize` opens a new one.
 */
import { type Logger, silentLogger } from '../logger.js';
import { AbortGroup, exchange } from './abort-group.js';
import { TransportError } from './errors.js';
import { bodyKind, errorBodyExcerpt } from './http-body.js';
import { idKey, isRequest, isResponse, type JsonRpcMessage, parseJsonRpcText } from './jsonrpc.js';
import { consumeSse } from './sse.js';
import {
  type ClientTransportOptions,
  DEFAULT_MAX_MESSAGE_BYTES,
  type FetchLike,
  type McpClientTransport,
  type SendOptions,
} from './types.js';

const ENDPOINT_TIMEOUT_MS = 15_000;

export function createLegacySseClient(opts: ClientTransportOptions): McpClientTransport {
  return new LegacySseClient(opts);
}

class LegacySseClient implements McpClientTransport {
  readonly kind = 'legacy-sse' as const;
  onmessage: McpClientTransport['onmessage'];
  onsessionexpired: McpClientTransport['onsessionexpired'];

  private readonly url: URL;
  private readonly fetch: FetchLike;
  private readonly staticHeaders: Record<string, string>;
  private readonly logger: Logger;
  private readonly maxBytes: number;
  private readonly root = new AbortGroup();
  private closed = false;
  private endpoint: Promise<URL> | undefined;
  private negotiated: string | undefined;
  private readonly pending = new Map<string, { resolve(): void; reject(e: unknown): void }>();
  private readonly initializeIds = new Set<string>();

  constructor(opts: ClientTransportOptions) {
    this.url = new URL(opts.url);
    this.fetch = opts.fetch;
    this.staticHeaders = Object.fromEntries(
      Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    this.logger = opts.logger ?? silentLogger;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  get sessionId(): string | undefined {
    return undefined; // the session is the stream (and whatever the endpoint URL encodes)
  }

  get protocolVersion(): string | undefined {
    return this.negotiated;
  }

  async send(message: JsonRpcMessage, opts: SendOptions = {}): Promise<void> {
    if (this.closed) throw new TransportError('closed', 'the transport is closed');
    const endpointPromise = this.connect();
    const endpoint = await endpointPromise;
    let answered: Promise<void> | undefined;
    let key: string | undefined;
    if (isRequest(message)) {
      key = idKey(message.id);
      if (message.method === 'initialize') this.initializeIds.add(key);
      answered = new Promise<void>((resolve, reject) => this.pending.set(key!, { resolve, reject }));
      answered.catch(() => {});
    }
    let res: Response;
    const x = exchange(this.root);
    try {
      res = await this.fetch(endpoint, {
        method: 'POST',
        headers: { ...this.staticHeaders, 'content-type': 'application/json' },
        body: opts.raw ?? JSON.stringify(message),
        signal: x.signal,
      });
    } catch (cause) {
      x.release();
      if (key) this.pending.delete(key);
      throw new TransportError(this.closed ? 'closed' : 'network', `could not reach ${endpoint.origin}`, {
        cause,
      });
    }
    if (!res.ok) {
      if (key) this.pending.delete(key);
      const detail = await errorBodyExcerpt(res, 300);
      x.release();
      if (res.status === 404) {
        // The server no longer knows the session the endpoint URL names (e.g. it restarted).
        this.lost(endpointPromise);
        throw new TransportError('session_expired', 'the HTTP+SSE server no longer knows this session', {
          status: 404,
        });
      }
      throw new TransportError('http_error', `the server answered HTTP ${res.status}: ${detail}`, {
        status: res.status,
      });
    }
    await res.body?.cancel().catch(() => {}); // 2024-11-05: the answer travels on the SSE stream
    x.release();
    return answered;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closedError = new TransportError('closed', 'the transport was closed');
    this.root.abort(closedError);
    for (const p of this.pending.values()) p.reject(closedError);
    this.pending.clear();
  }

  /** Opens the SSE stream once and waits for its `endpoint` event. */
  private connect(): Promise<URL> {
    if (this.endpoint) return this.endpoint;
    const stream = exchange(this.root);
    const endpoint = new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TransportError('malformed_response', 'the SSE stream sent no endpoint event')),
        ENDPOINT_TIMEOUT_MS,
      );
      timer.unref();
      const done = (error?: TransportError, url?: URL) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(url!);
      };
      this.open(stream.signal, done)
        .catch((error) => done(error))
        .finally(() => stream.release());
    });
    endpoint.catch(() => {
      stream.abort();
      if (this.endpoint === endpoint) this.endpoint = undefined;
    });
    this.endpoint = endpoint;
    return endpoint;
  }

  private async open(signal: AbortSignal, done: (error?: TransportError, url?: URL) => void): Promise<void> {
    let res: Response;
    try {
      res = await this.fetch(this.url, {
        method: 'GET',
        headers: { ...this.staticHeaders, accept: 'text/event-stream' },
        signal,
      });
    } catch (cause) {
      throw new TransportError('network', `could not reach ${this.url.origin}`, { cause });
    }
    if (!res.ok || bodyKind(res) !== 'sse') {
      const detail = await errorBodyExcerpt(res, 300);
      throw new TransportError(
        'http_error',
        `no HTTP+SSE stream at ${this.url.href} (HTTP ${res.status}) ${detail}`,
        {
          status: res.status,
        },
      );
    }
    const endpointPromise = this.endpoint;
    let gotEndpoint = false;
    try {
      await consumeSse(
        res.body!,
        {
          onEvent: (ev) => {
            if (ev.event === 'endpoint') {
              if (gotEndpoint) return;
              gotEndpoint = true;
              const url = new URL(ev.data.trim(), this.url);
              // Never POST (with credentials) to another origin than the one the user named.
              if (url.origin !== this.url.origin) {
                done(
                  new TransportError(
                    'malformed_response',
                    `the endpoint event points at another origin: ${url.origin}`,
                  ),
                );
                return;
              }
              done(undefined, url);
              return;
            }
            if (ev.event !== undefined && ev.event !== 'message') return;
            if (!ev.data) return;
            const outcome = parseJsonRpcText(ev.data);
            if (!outcome.ok) {
              this.logger.warn(
                { error: outcome.error.message },
                'ignoring a malformed SSE message from the server',
              );
              return;
            }
            this.deliver(outcome.message, ev.data.includes('\n') ? undefined : ev.data);
          },
        },
        { maxEventBytes: this.maxBytes, signal },
      );
    } catch (error) {
      if (!signal.aborted) this.logger.warn({ err: String(error) }, 'the HTTP+SSE stream failed');
    }
    if (!gotEndpoint)
      done(new TransportError('malformed_response', 'the SSE stream ended without an endpoint event'));
    else this.lost(endpointPromise);
  }

  /** The stream (and with it the session) is gone: fail what waits on it and tell the owner. */
  private lost(endpoint: Promise<URL> | undefined): void {
    if (this.closed || this.endpoint !== endpoint || endpoint === undefined) return;
    this.endpoint = undefined;
    const error = new TransportError(
      'session_lost',
      'the HTTP+SSE stream closed while the request was in flight',
    );
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.logger.info('the HTTP+SSE session ended');
    this.onsessionexpired?.();
  }

  private deliver(message: JsonRpcMessage, raw: string | undefined): void {
    if (isResponse(message) && message.id !== null) {
      const key = idKey(message.id);
      if (this.initializeIds.delete(key) && 'result' in message) {
        const v = message.result['protocolVersion'];
        if (typeof v === 'string') this.negotiated = v;
      }
      this.onmessage?.(message, raw);
      const p = this.pending.get(key);
      if (p) {
        this.pending.delete(key);
        p.resolve();
      }
      return;
    }
    this.onmessage?.(message, raw);
  }
}
