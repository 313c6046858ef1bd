/**
 * JSON-RPC 2.0 at the shape level: what the MCP side needs to route a message (request,
 * notification or response; its id and method) and the error bodies it answers with.
 * Hand-written rather than a zod schema: it runs on every proxied message and checks only the
 * envelope; the MCP server behind the gateway validates the rest.
 */

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** JSON-RPC 2.0 §5.1 codes, and the MCP ones the gateway emits. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server error (the SDK uses it for transport-level refusals). */
export const SERVER_ERROR = -32000;
/** The SDK's "Session not found" code (MCP transports §Session Management). */
export const SESSION_NOT_FOUND = -32001;
/** MCP 2026-07-28 streamable-http §Server Validation: `HeaderMismatch`. */
export const HEADER_MISMATCH = -32020;
/** MCP 2026-07-28 `UnsupportedProtocolVersionError`. */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m && m.id !== undefined;
}
export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m && m.id !== undefined);
}
export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m) && ('result' in m || 'error' in m);
}

/** JSON-RPC 2.0 §4: a message object the gateway can route, or undefined. */
export function asMessage(value: unknown): JsonRpcMessage | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const m = value as Record<string, unknown>;
  if (m['jsonrpc'] !== '2.0') return undefined;
  const id = m['id'];
  const hasId = id !== undefined;
  if (hasId && id !== null && typeof id !== 'string' && typeof id !== 'number') return undefined;
  if ('method' in m) {
    if (typeof m['method'] !== 'string') return undefined;
    if (id === null) return undefined; // a request id is never null (JSON-RPC 2.0 §4)
    const params = m['params'];
    if (params !== undefined && (typeof params !== 'object' || params === null)) return undefined;
    return m as unknown as JsonRpcMessage;
  }
  if (!hasId || !('result' in m || 'error' in m)) return undefined;
  return m as unknown as JsonRpcMessage;
}

/** A stable string key for an id: `1` and `"1"` are different ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

export function errorResponse(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

/**
 * A refusal at the HTTP level, answered with a JSON-RPC error body (MCP transports: the body of
 * an error "MAY comprise a JSON-RPC error response that has no id"). Rendered by `render.ts`.
 */
export class McpHttpError extends Error {
  override readonly name = 'McpHttpError';
  readonly status: number;
  readonly code: number;
  readonly id: JsonRpcId | null;
  readonly data: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: number,
    message: string,
    opts: { id?: JsonRpcId | null; data?: unknown; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.status = status;
    this.code = code;
    this.id = opts.id ?? null;
    this.data = opts.data;
    this.headers = opts.headers ?? {};
  }

  body(): JsonRpcResponse {
    return errorResponse(this.id, this.code, this.message, this.data);
  }
}
