/**
 * The stdio ↔ Streamable HTTP bridge behind `portcullis connect`: an MCP stdio server to the host
 * that forwards every JSON-RPC message, both ways, to a remote MCP server. It works at the
 * transport level (no MCP SDK): stdout carries only JSON-RPC (C42), every failure on the HTTP
 * leg becomes the JSON-RPC error of the request that caused it, and a session the server ended
 * is re-initialized by replaying the host's own `initialize`, invisibly to the host.
 */
import type { Readable, Writable } from 'node:stream';
import { type Logger, silentLogger } from '../logger.js';
import { assertSecureUrl } from '../oauth/url-rules.js';
import { createClientTransport, type TransportStrategy } from '../transport/client-transport.js';
import { describeError, isTransportError, TransportError } from '../transport/errors.js';
import {
  errorResponse,
  idKey,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcMessage,
  type JsonRpcResponse,
} from '../transport/jsonrpc.js';
import { ndjsonWriter, readNdjson } from '../transport/stdio-framing.js';
import type { FetchLike, McpClientTransport } from '../transport/types.js';
import { bridgeErrorFor } from './errors.js';

export interface BridgeOptions {
  url: string | URL;
  fetch: FetchLike;
  stdin: Readable;
  stdout: Writable;
  /** Default `http-first`: Streamable HTTP, falling back to HTTP+SSE (2024-11-05). */
  transport?: TransportStrategy;
  headers?: Record<string, string> | undefined;
  logger?: Logger | undefined;
  /** Aborting ends the bridge as stdin closing does (SIGTERM/SIGINT). */
  signal?: AbortSignal;
  /** Cleartext to a non-loopback host (`--allow-http`). */
  allowHttp?: boolean;
  /** Largest message accepted in either direction (default 32 MiB). */
  maxMessageBytes?: number | undefined;
  /** Test seam: build the transport yourself. */
  createTransport?: (opts: Parameters<typeof createClientTransport>[0]) => McpClientTransport;
}

export type BridgeEndReason = 'stdin_closed' | 'stdout_closed' | 'aborted';

/** Runs until the host goes away or `signal` aborts; then ends the session and settles. */
export async function runBridge(opts: BridgeOptions): Promise<{ reason: BridgeEndReason }> {
  const url = assertSecureUrl(opts.url, 'MCP server URL', { allowHttp: opts.allowHttp ?? false });
  const logger = opts.logger ?? silentLogger;
  const transportOpts = {
    url,
    fetch: opts.fetch,
    headers: opts.headers,
    logger,
    maxMessageBytes: opts.maxMessageBytes,
    strategy: opts.transport ?? 'http-first',
  };
  const transport = (opts.createTransport ?? createClientTransport)(transportOpts);
  const bridge = new Bridge(transport, url.origin, logger);

  let finish!: (reason: BridgeEndReason) => void;
  const ended = new Promise<BridgeEndReason>((resolve) => {
    finish = resolve;
  });
  const writer = ndjsonWriter(opts.stdout, (error) => {
    logger.info({ err: error.message }, 'stdout closed; the host is gone');
    finish('stdout_closed');
  });
  bridge.write = (message, raw) => writer.write(message, raw);
  const reader = readNdjson(
    opts.stdin,
    {
      onMessage: (message, raw) => bridge.fromHost(message, raw),
      onInvalid: (response) => {
        logger.warn({ error: response.error.message }, 'the host sent a line that is not JSON-RPC');
        writer.write(response);
      },
      onClose: (error) => {
        if (error) logger.warn({ err: error.message }, 'stdin failed');
        finish('stdin_closed');
      },
    },
    { maxLineBytes: opts.maxMessageBytes },
  );
  const onAbort = () => finish('aborted');
  if (opts.signal?.aborted) finish('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const reason = await ended;
  opts.signal?.removeEventListener('abort', onAbort);
  reader.stop();
  bridge.closing = true;
  logger.debug({ reason }, 'bridge closing');
  await transport.close(); // DELETE the session, abort every stream
  return { reason };
}

/** The message routing, separate from stream plumbing so it reads top to bottom. */
class Bridge {
  write: (message: JsonRpcMessage, raw?: string) => boolean = () => false;
  closing = false;
  /** The host's `initialize` params, replayed when the server ends the session. */
  private hostInitialize: Record<string, unknown> | undefined;
  private hostSentInitialized = false;
  private needsReinit = false;
  private reinit: Promise<void> | undefined;
  private reinitCount = 0;
  /** Responses to the bridge's own requests, kept from the host. */
  private readonly own = new Map<string, (response: JsonRpcResponse) => void>();

  constructor(
    private readonly transport: McpClientTransport,
    private readonly origin: string,
    private readonly logger: Logger,
  ) {
    transport.onmessage = (message, raw) => this.fromServer(message, raw);
    transport.onsessionexpired = () => {
      this.needsReinit = true;
      // Re-initialize now, so the GET stream (list_changed, …) is back before the host asks anything.
      if (this.hostInitialize) this.reinitialize().catch(() => {});
    };
  }

  fromHost(message: JsonRpcMessage, raw: string): void {
    if (isRequest(message) && message.method === 'initialize') this.hostInitialize = message.params ?? {};
    if (isNotification(message) && message.method === 'notifications/initialized')
      this.hostSentInitialized = true;
    void this.forward(message, raw);
  }

  private fromServer(message: JsonRpcMessage, raw: string | undefined): void {
    if (isResponse(message) && message.id !== null) {
      const mine = this.own.get(idKey(message.id));
      if (mine) {
        this.own.delete(idKey(message.id));
        mine(message);
        return;
      }
    }
    if (!this.closing) this.write(message, raw);
  }

  private async forward(message: JsonRpcMessage, raw: string): Promise<void> {
    const isInit = isRequest(message) && message.method === 'initialize';
    try {
      if (this.needsReinit && !isInit) await this.reinitialize();
      await this.transport.send(message, { raw });
      if (isInit) this.needsReinit = false;
    } catch (error) {
      // §Session Management: the server never saw this message; a new session, then send it again.
      if (isTransportError(error, 'session_expired') && !isInit && !isResponse(message)) {
        try {
          await this.reinitialize();
          await this.transport.send(message, { raw });
          return;
        } catch (retryError) {
          return this.fail(message, retryError);
        }
      }
      this.fail(message, error);
    }
  }

  /** Replays the host's initialize under an id of the bridge's own, swallows its answer, re-sends initialized. */
  private reinitialize(): Promise<void> {
    if (this.reinit) return this.reinit;
    const params = this.hostInitialize;
    if (!params)
      return Promise.reject(new TransportError('session_expired', 'the session ended before initialize'));
    const run = async () => {
      const id = `portcullis-reinit-${++this.reinitCount}`;
      let answer: JsonRpcResponse | undefined;
      this.own.set(idKey(id), (r) => {
        answer = r;
      });
      try {
        await this.transport.send({ jsonrpc: '2.0', id, method: 'initialize', params });
      } finally {
        this.own.delete(idKey(id));
      }
      if (!answer || 'error' in answer) {
        const why = answer && 'error' in answer ? answer.error.message : 'no answer';
        throw new TransportError('http_error', `the server refused the new session: ${why}`);
      }
      if (this.hostSentInitialized)
        await this.transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      this.needsReinit = false;
      this.logger.info(
        { sessionId: this.transport.sessionId },
        're-initialized the MCP session the server had ended',
      );
    };
    const p = run().finally(() => {
      if (this.reinit === p) this.reinit = undefined;
    });
    this.reinit = p;
    return p;
  }

  private fail(message: JsonRpcMessage, error: unknown): void {
    if (this.closing && isTransportError(error, 'closed')) return;
    const what = 'method' in message ? message.method : 'a response';
    if (isRequest(message)) {
      const rpcError = bridgeErrorFor(error, this.origin);
      this.logger.warn(
        { method: what, id: message.id, err: describeError(error) },
        'a request to the MCP server failed',
      );
      if (!this.closing) this.write(errorResponse(message.id, rpcError));
      return;
    }
    // A notification or a response has no id to answer: stderr is the only place to say so.
    this.logger.error(
      { message: what, err: describeError(error) },
      `could not deliver ${what} to the MCP server`,
    );
  }
}
