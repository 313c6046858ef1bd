/**
 * The Streamable HTTP client transport (MCP 2025-03-26 … 2025-11-25 §Streamable HTTP, and the
 * stateless 2026-07-28 revision): POST answered by 202, JSON or SSE; `Mcp-Session-Id` and
 * `MCP-Protocol-Version` after initialize; the GET stream for server-initiated messages; POST
 * streams that drop before their response resumed by GET + `Last-Event-ID` after the server's
 * `retry:`; DELETE on close. Built on any fetch, with no MCP SDK.
 */
import { type Logger, silentLogger } from '../logger.js';
import { AbortGroup, type Exchange, exchange } from './abort-group.js';
import { TransportError } from './errors.js';
import { type GetStreamContext, openGet, runGetStream } from './get-stream.js';
import { bodyKind, classifyPostFailure, messagesInJson, readBodyText } from './http-body.js';
import { idKey, isRequest, isResponse, type JsonRpcMessage } from './jsonrpc.js';
import { reconnectDelay, sleep } from './reconnect.js';
import { declaredVersion, isStatelessRevision, standardHeaders } from './request-headers.js';
import { readMessageStream } from './sse.js';
import { ToolHeaderRegistry } from './tool-headers.js';
import {
  type ClientTransportOptions,
  DEFAULT_MAX_MESSAGE_BYTES,
  type FetchLike,
  type McpClientTransport,
  type SendOptions,
} from './types.js';

interface Pending {
  resolve(): void;
  reject(error: unknown): void;
}

export function createStreamableHttpClient(opts: ClientTransportOptions): McpClientTransport {
  return new StreamableHttpClient(opts);
}

class StreamableHttpClient implements McpClientTransport {
  readonly kind = 'streamable-http' as const;
  onmessage: McpClientTransport['onmessage'];
  onsessionexpired: McpClientTransport['onsessionexpired'];

  private readonly url: URL;
  private readonly fetch: FetchLike;
  private readonly staticHeaders: Record<string, string>;
  private readonly logger: Logger;
  private readonly maxBytes: number;
  private readonly closeTimeoutMs: number;
  private readonly opts: ClientTransportOptions;
  private readonly tools: ToolHeaderRegistry;

  private session: string | undefined;
  private negotiated: string | undefined;
  private everAnswered = false;
  private closed = false;
  /** Every live exchange; aborted on close. */
  private readonly root = new AbortGroup();
  /** The session's GET stream and resumptions; aborted when the session ends. */
  private sessionGroup = new AbortGroup();
  private getStreamRunning = false;
  private lastRetryMs: number | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly initializeIds = new Set<string>();
  private readonly toolsListIds = new Set<string>();

  constructor(opts: ClientTransportOptions) {
    this.opts = opts;
    this.url = new URL(opts.url);
    this.fetch = opts.fetch;
    // Lower-cased once, so the protocol's own headers below replace a user's same-named ones.
    this.staticHeaders = Object.fromEntries(
      Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    this.logger = opts.logger ?? silentLogger;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 500;
    this.tools = new ToolHeaderRegistry(this.logger);
  }

  get sessionId(): string | undefined {
    // 2026-07-28 §Backward Compatibility: no protocol-level sessions; an id a server sends anyway is ignored.
    return isStatelessRevision(this.negotiated) ? undefined : this.session;
  }

  get protocolVersion(): string | undefined {
    return this.negotiated;
  }

  async send(message: JsonRpcMessage, opts: SendOptions = {}): Promise<void> {
    if (this.closed) throw new TransportError('closed', 'the transport is closed');
    const version = this.versionFor(message);
    const stateless = isStatelessRevision(version);
    const sentSession = stateless ? undefined : this.session;
    const headers = this.headers(version, sentSession);
    headers['content-type'] = 'application/json';
    headers['accept'] = 'application/json, text/event-stream'; // §Sending Messages: both, always
    if (stateless) {
      // 2026 §Standard Request Headers, §Custom Headers (C44, T7, T8).
      Object.assign(headers, standardHeaders(message));
      if (isRequest(message) && message.method === 'tools/call') {
        Object.assign(
          headers,
          this.tools.headersFor(message.params?.['name'], message.params?.['arguments']),
        );
      }
    }
    let key: string | undefined;
    let answered: Promise<void> | undefined;
    if (isRequest(message)) {
      key = idKey(message.id);
      if (message.method === 'initialize') this.initializeIds.add(key);
      if (message.method === 'tools/list' && stateless) this.toolsListIds.add(key);
      answered = this.track(key);
    }
    const x = exchange(this.root);
    let res: Response;
    try {
      const body = opts.raw ?? JSON.stringify(message);
      res = await this.fetch(this.url, { method: 'POST', headers, body, signal: x.signal });
    } catch (cause) {
      x.release();
      if (key) this.pending.delete(key);
      throw this.closed
        ? new TransportError('closed', 'the transport was closed', { cause })
        : new TransportError('network', `could not reach ${this.url.origin}`, { cause });
    }
    try {
      await this.onPostResponse(res, message, key, sentSession, stateless, x);
    } catch (error) {
      x.release();
      if (key) this.pending.delete(key);
      throw error;
    }
    return answered;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const session = this.sessionId;
    this.closed = true;
    const closedError = new TransportError('closed', 'the transport was closed');
    this.root.abort(closedError);
    this.sessionGroup.abort(closedError);
    for (const p of this.pending.values()) p.reject(closedError);
    this.pending.clear();
    if (!session) return;
    // §Session Management: a client that no longer needs the session SHOULD DELETE it (405 is fine).
    try {
      const res = await this.fetch(this.url, {
        method: 'DELETE',
        headers: this.headers(this.negotiated, session),
        signal: AbortSignal.timeout(this.closeTimeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      this.logger.debug({ status: res.status }, 'session ended with DELETE');
    } catch (error) {
      this.logger.debug({ err: error }, 'the DELETE that ends the session failed');
    }
  }

  /** 2026 §Protocol Version Header: the header equals the `_meta` version a message declares. */
  private versionFor(message: JsonRpcMessage): string | undefined {
    const declared = declaredVersion(message);
    if (declared) return declared;
    if (isRequest(message) && message.method === 'initialize') {
      // Before negotiation, only a client asking for the stateless revision gets its headers.
      const requested = message.params?.['protocolVersion'];
      return typeof requested === 'string' && isStatelessRevision(requested) ? requested : undefined;
    }
    return this.negotiated;
  }

  private headers(version: string | undefined, session: string | undefined): Record<string, string> {
    const h: Record<string, string> = { ...this.staticHeaders };
    if (session) h['mcp-session-id'] = session;
    if (version) h['mcp-protocol-version'] = version;
    return h;
  }

  private track(key: string): Promise<void> {
    if (this.pending.has(key)) this.logger.warn({ id: key }, 'a request id was reused while still in flight');
    const answered = new Promise<void>((resolve, reject) => this.pending.set(key, { resolve, reject }));
    answered.catch(() => {}); // awaited by the caller; this only keeps an early failure from going unhandled
    return answered;
  }

  private settle(keys: string[], error: TransportError): void {
    for (const key of keys) {
      const p = this.pending.get(key);
      if (!p) continue;
      this.pending.delete(key);
      p.reject(error);
    }
  }

  private async onPostResponse(
    res: Response,
    message: JsonRpcMessage,
    key: string | undefined,
    sentSession: string | undefined,
    stateless: boolean,
    x: Exchange,
  ): Promise<void> {
    if (res.ok) {
      this.everAnswered = true;
      const minted = res.headers.get('mcp-session-id');
      if (minted && key && this.initializeIds.has(key)) this.session = minted;
      const kind = bodyKind(res);
      if (kind === 'sse') {
        // The stream owns the exchange from here; followStream releases it.
        void this.followStream(res.body!, key ? [key] : [], stateless, this.sessionGroup, 0, x);
        return;
      }
      x.release();
      if (kind === 'json') {
        const { messages, raws } = messagesInJson(await readBodyText(res, this.maxBytes));
        for (const [i, m] of messages.entries()) this.deliver(m, raws[i]);
        if (key && this.pending.has(key)) {
          throw new TransportError(
            'malformed_response',
            'the server answered without a response to the request',
          );
        }
      } else if (kind === 'other') {
        await res.body?.cancel().catch(() => {});
        if (key) {
          const type = res.headers.get('content-type') ?? 'none';
          throw new TransportError('malformed_response', `the server answered with content-type ${type}`);
        }
      } else if (key && stateless) {
        throw new TransportError('malformed_response', 'the server accepted a request without answering it');
      } // else: 202 — a request's response will come on the GET stream
      return;
    }
    const text = await readBodyText(res, 64 * 1024).catch(() => '');
    x.release();
    const outcome = classifyPostFailure(res.status, text, {
      sentSession,
      firstContact: !this.everAnswered && !sentSession,
      requestId: isRequest(message) ? message.id : undefined,
    });
    if (outcome instanceof TransportError) {
      // §Session Management: 404 to a request with a session id → the next initialize starts a new one.
      if (outcome.code === 'session_expired' && sentSession) this.expire(sentSession);
      throw outcome;
    }
    this.deliver(outcome, undefined);
  }

  private expire(session: string): void {
    if (this.session !== session) return; // already replaced: a stale failure
    this.session = undefined;
    this.sessionGroup.abort();
    this.sessionGroup = new AbortGroup();
    this.getStreamRunning = false;
    this.logger.info('the server ended the MCP session');
    this.onsessionexpired?.();
  }

  /** Hands one message from the server on, after the transport's own bookkeeping on responses. */
  private readonly deliver = (message: JsonRpcMessage, raw: string | undefined): void => {
    if (!isResponse(message) || message.id === null) {
      this.onmessage?.(message, raw);
      return;
    }
    const key = idKey(message.id);
    if (this.initializeIds.delete(key) && 'result' in message) {
      const v = message.result['protocolVersion'];
      if (typeof v === 'string') this.negotiated = v;
      // The GET stream opens as soon as there is a session, so server-initiated messages have a
      // path before the first request is even sent (2026-07-28 has no GET stream: skipped there).
      if (!isStatelessRevision(this.negotiated)) this.startGetStream();
    }
    if (this.toolsListIds.delete(key) && 'result' in message) {
      const filtered = this.tools.record(message);
      if (filtered) {
        message = filtered;
        raw = undefined;
      }
    }
    this.onmessage?.(message, raw);
    const p = this.pending.get(key);
    if (p) {
      this.pending.delete(key);
      p.resolve();
    }
  };

  /**
   * A POST's SSE stream, or its resumption. If it ends before the response, it is resumed with
   * GET + `Last-Event-ID` after the server's `retry:` (2025-11-25 §Resumability, SEP-1699) when the
   * server made it resumable; otherwise the request fails with the reason.
   */
  private async followStream(
    body: ReadableStream<Uint8Array>,
    keys: string[],
    stateless: boolean,
    group: AbortGroup,
    attempt: number,
    x: Exchange,
  ): Promise<void> {
    const end = await readMessageStream(body, {
      maxEventBytes: this.maxBytes,
      signal: x.signal,
      onMessage: (m, raw) => {
        this.deliver(m, raw);
        // A resumed stream has served its purpose once its requests are answered.
        if (attempt > 0 && keys.every((k) => !this.pending.has(k))) x.abort();
      },
      onRetry: (ms) => {
        this.lastRetryMs = ms;
      },
    });
    x.release();
    const open = keys.filter((k) => this.pending.has(k));
    if (open.length === 0 || this.closed) return;
    if (end.error instanceof TransportError && end.error.code === 'message_too_large') {
      return this.settle(open, end.error);
    }
    if (group.aborted) return this.settle(open, sessionLost());
    // 2026: "Resumable SSE streams via Last-Event-ID are not supported".
    if (end.lastEventId === undefined || stateless || !this.session) {
      const why = end.malformed
        ? new TransportError('malformed_response', `the server sent a malformed message: ${end.malformed}`)
        : end.error
          ? new TransportError('network', 'the response stream was cut off before the response', {
              cause: end.error,
            })
          : new TransportError(
              'malformed_response',
              'the server ended the response stream without a response',
            );
      return this.settle(open, why);
    }
    const session = this.session;
    const ctx = this.getContext(session);
    let tries = end.events > 0 ? 0 : attempt;
    for (; tries < (this.opts.reconnect?.maxRetries ?? 5); tries++) {
      const wait = reconnectDelay(this.opts.reconnect, tries, end.retryMs ?? this.lastRetryMs);
      const resume = exchange(this.root, group);
      if (!(await sleep(wait, resume.signal))) return resume.release();
      if (open.every((k) => !this.pending.has(k))) return resume.release(); // answered on another stream
      const got = await openGet(ctx, end.lastEventId, resume.signal);
      if (got.kind === 'stream') return this.followStream(got.body, open, false, group, tries + 1, resume);
      resume.release();
      if (got.kind === 'session_gone') {
        this.expire(session);
        return this.settle(open, sessionLost());
      }
      if (got.kind === 'not_allowed') break;
    }
    this.settle(open, new TransportError('network', 'the response stream dropped and could not be resumed'));
  }

  /** §Listening for Messages from the Server: one GET stream per session. */
  private startGetStream(): void {
    const session = this.session;
    if (this.getStreamRunning || this.closed || !session) return;
    this.getStreamRunning = true;
    const group = this.sessionGroup;
    const x = exchange(this.root, group);
    void runGetStream(this.getContext(session), x.signal).finally(() => {
      x.release();
      if (this.sessionGroup === group) this.getStreamRunning = false;
    });
  }

  private getContext(session: string): GetStreamContext {
    return {
      url: this.url,
      fetch: this.fetch,
      logger: this.logger,
      maxBytes: this.maxBytes,
      reconnect: this.opts.reconnect,
      maxRetries: this.opts.reconnect?.maxRetries ?? 5,
      headers: () => this.headers(this.negotiated, session),
      onMessage: this.deliver,
      serverRetryMs: (ms) => {
        if (ms !== undefined) this.lastRetryMs = ms;
        return this.lastRetryMs;
      },
      onSessionGone: () => this.expire(session),
    };
  }
}

function sessionLost(): TransportError {
  return new TransportError('session_lost', 'the server ended the session while the request was in flight');
}
