/**
 * Transport failures, each with a stable `code` a caller can switch on (the bridge turns them
 * into JSON-RPC errors for the host; the CLI into a message and an exit code).
 */
export type TransportErrorCode =
  /** A 404 to a request that carried `Mcp-Session-Id`: the session is gone (MCP 2025-11-25 §Session Management). */
  | 'session_expired'
  /** The session ended while this request was already in the server's hands: its outcome is unknown. */
  | 'session_lost'
  /** The first POST was answered 400/404/405 without a JSON-RPC error: probably an HTTP+SSE (2024-11-05) server. */
  | 'not_streamable_http'
  /** Any other non-success HTTP status. */
  | 'http_error'
  /** fetch itself failed: DNS, refused, reset, TLS. */
  | 'network'
  /** The server answered something that is not the JSON-RPC it owed. */
  | 'malformed_response'
  /** A message from the server exceeded the configured size limit. */
  | 'message_too_large'
  /** The transport was closed while the exchange was in flight. */
  | 'closed';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** The session id the failed request carried, so a caller can tell a stale failure from a fresh one. */
  readonly sessionId: string | undefined;

  constructor(
    code: TransportErrorCode,
    message: string,
    opts: { status?: number | undefined; sessionId?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
    this.sessionId = opts.sessionId;
  }
}

export function isTransportError(e: unknown, code?: TransportErrorCode): e is TransportError {
  return e instanceof TransportError && (code === undefined || e.code === code);
}

/**
 * A short, single-line description of a thrown value, safe for logs: the messages down the
 * `cause` chain, so "fetch failed" comes with the reason underneath (refused, certificate, …).
 */
export function describeError(e: unknown): string {
  return causeMessages(e).join(': ');
}

/** The distinct messages of an error and its causes, outermost first (at most 5 deep). */
export function causeMessages(e: unknown): string[] {
  const out: string[] = [];
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    const text =
      typeof code === 'string' && !message.includes(code) && !(e instanceof TransportError)
        ? `${message} (${code})`
        : message;
    if (text && !out.includes(text)) out.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return out;
}

/** A JSON-RPC error the server answered with, or a local failure with a stable `code`. */
export class McpRequestError extends Error {
  override readonly name = 'McpRequestError';
  constructor(
    /** The JSON-RPC error code, or `timeout` / `aborted` / `unsupported_protocol_version`. */
    readonly code: number | 'timeout' | 'aborted' | 'unsupported_protocol_version',
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
