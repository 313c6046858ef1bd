/**
 * The client transport contract shared by Streamable HTTP and the legacy HTTP+SSE transport.
 * Deliberately close to the SDK's `Transport` (send / close / onmessage) so it reads familiar,
 * but `send` settles per exchange, so a caller can map a failure to the message that caused it.
 */
import type { Logger } from '../logger.js';
import type { JsonRpcMessage } from './jsonrpc.js';
import type { ReconnectOptions } from './reconnect.js';

/** Any fetch: `globalThis.fetch`, the client core's `AuthFetch`, or a proxy-aware one. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface SendOptions {
  /** The message's JSON text as received (no newlines), sent as the body instead of re-serialising. */
  raw?: string | undefined;
}

export interface McpClientTransport {
  readonly kind: 'streamable-http' | 'legacy-sse';
  /**
   * Sends one message. For a request, settles once its response has gone out through `onmessage`
   * (on whatever stream it came) or the exchange failed; for a notification or a response, once the
   * server accepted it. Rejects with a `TransportError`.
   */
  send(message: JsonRpcMessage, opts?: SendOptions): Promise<void>;
  /** Ends the session (DELETE where the revision has one), aborts every stream, rejects what is pending. */
  close(): Promise<void>;
  /** Every message from the server, in stream order; `raw` is its JSON text when it was not altered. */
  onmessage: ((message: JsonRpcMessage, raw: string | undefined) => void) | undefined;
  /**
   * The server ended the session (404 on a request that carried `Mcp-Session-Id`, or the legacy SSE
   * stream was lost). The next `initialize` starts a new one.
   */
  onsessionexpired: (() => void) | undefined;
  readonly sessionId: string | undefined;
  /** The negotiated protocol version, once an `initialize` response has passed through. */
  readonly protocolVersion: string | undefined;
}

export interface ClientTransportOptions {
  url: string | URL;
  fetch: FetchLike;
  /** Static headers sent on every request (`--header`); protocol headers always win. */
  headers?: Record<string, string> | undefined;
  logger?: Logger | undefined;
  /** Largest message accepted from the server, in bytes (default 32 MiB). */
  maxMessageBytes?: number | undefined;
  /** Bound on the DELETE sent by `close()` (default 500 ms), so a dead server cannot hold up exit. */
  closeTimeoutMs?: number | undefined;
  /** Reconnection delays when the server gives no `retry:` (defaults: 1 s, ×1.5, at most 30 s, 5 tries). */
  reconnect?: ReconnectOptions | undefined;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
