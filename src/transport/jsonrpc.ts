/**
 * JSON-RPC 2.0 messages as MCP carries them (MCP §Base Protocol; JSON-RPC 2.0 §4–§5).
 * Every message that crosses a wire into portcullis is parsed here, at the edge, with zod;
 * inside, the types are trusted. Unknown members are kept: MCP adds `_meta` and friends.
 */
// zod/mini: the same validation as classic zod, tree-shaken (no locales), so the bridge starts fast.
import * as z from 'zod/mini';

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown> | undefined;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown> | undefined;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  /** `null` only when the id could not be determined (JSON-RPC 2.0 §5). */
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** JSON-RPC 2.0 §5.1 pre-defined error codes. */
export const JsonRpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

// MCP §Base Protocol: ids are strings or integers, never null on a request.
const id = z.union([z.string(), z.int()]);
const params = z.optional(z.record(z.string(), z.unknown()));

const RequestSchema = z.looseObject({ jsonrpc: z.literal('2.0'), id, method: z.string(), params });
const NotificationSchema = z.looseObject({ jsonrpc: z.literal('2.0'), method: z.string(), params });
const SuccessSchema = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id,
  result: z.record(z.string(), z.unknown()),
});
const FailureSchema = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id: z.nullable(id),
  error: z.looseObject({ code: z.int(), message: z.string(), data: z.optional(z.unknown()) }),
});

export type ParseOutcome =
  | { ok: true; message: JsonRpcMessage }
  | { ok: false; error: JsonRpcErrorObject; id: JsonRpcId | null };

/**
 * Validates an already JSON-decoded value as one JSON-RPC 2.0 message. On failure, returns the
 * `Invalid Request` error to answer with and the id it could recover (JSON-RPC 2.0 §5: null if none).
 */
export function parseJsonRpcMessage(value: unknown): ParseOutcome {
  if (Array.isArray(value)) {
    // JSON-RPC batches were removed from MCP in 2025-06-18 (§Base Protocol changelog).
    return invalid('batches are not supported by MCP since 2025-06-18', null);
  }
  if (typeof value !== 'object' || value === null)
    return invalid('a JSON-RPC message must be an object', null);
  const v = value as Record<string, unknown>;
  const recoveredId =
    typeof v['id'] === 'string' || Number.isInteger(v['id']) ? (v['id'] as JsonRpcId) : null;
  const schema =
    'method' in v
      ? 'id' in v
        ? RequestSchema
        : NotificationSchema
      : 'error' in v
        ? FailureSchema
        : SuccessSchema;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return invalid(`not a valid JSON-RPC 2.0 message${where}: ${issue?.message ?? 'invalid'}`, recoveredId);
  }
  return { ok: true, message: parsed.data as JsonRpcMessage };
}

/** Decodes and validates one JSON text; a decoding failure is a `Parse error` with id null. */
export function parseJsonRpcText(text: string): ParseOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return {
      ok: false,
      id: null,
      error: { code: JsonRpcErrorCode.ParseError, message: `Parse error: ${detail}` },
    };
  }
  return parseJsonRpcMessage(value);
}

function invalid(message: string, id: JsonRpcId | null): ParseOutcome {
  return {
    ok: false,
    id,
    error: { code: JsonRpcErrorCode.InvalidRequest, message: `Invalid Request: ${message}` },
  };
}

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m;
}

export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m);
}

export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m);
}

export function isFailure(m: JsonRpcMessage): m is JsonRpcFailure {
  return 'error' in m && !('method' in m);
}

export function errorResponse(id: JsonRpcId | null, error: JsonRpcErrorObject): JsonRpcFailure {
  return { jsonrpc: '2.0', id, error };
}

/** A key for maps of in-flight ids: `1` and `"1"` are different ids (JSON-RPC 2.0 §4). */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}
