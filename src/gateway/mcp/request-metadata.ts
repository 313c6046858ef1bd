/**
 * Protocol revisions on the MCP path, and the 2026-07-28 request-metadata rules the gateway can
 * check because it reads the body anyway (T6, T7, T9).
 */
import type { ParsedBody } from './body.js';
import { decodeHeaderValue } from './headers.js';
import { HEADER_MISMATCH, INVALID_REQUEST, isRequest, isResponse, McpHttpError } from './jsonrpc.js';

/** Revisions with `initialize` and `Mcp-Session-Id` (T4). */
export const SESSION_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
/** Stateless revisions: every POST carries its own metadata (T5). */
export const STATELESS_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

const STATELESS = new Set<string>(STATELESS_PROTOCOL_VERSIONS);
const SESSION = new Set<string>(SESSION_PROTOCOL_VERSIONS);

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';

export type HeaderGetter = (lowercaseName: string) => string | undefined;

/** T5/T6: which era a request belongs to, by its `MCP-Protocol-Version` header. */
export function protocolEra(version: string | undefined): 'session' | 'stateless' | 'unknown' {
  if (version === undefined) return 'session'; // transports: a missing header means 2025-03-26
  if (STATELESS.has(version)) return 'stateless';
  return SESSION.has(version) ? 'session' : 'unknown';
}

/** T7: the methods whose target is mirrored into `Mcp-Name`, and where it sits in `params`. */
const NAMED_METHODS: Record<string, 'name' | 'uri'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

function mismatch(message: string, id: ParsedBody['replyId']): McpHttpError {
  return new McpHttpError(400, HEADER_MISMATCH, `Header mismatch: ${message}`, { id });
}

/**
 * T9: a server that reads the body rejects a 2026 request whose `Mcp-Method`, `Mcp-Name` or
 * `MCP-Protocol-Version` is missing or disagrees with the body — 400 with `HeaderMismatch`.
 * `Mcp-Param-*` headers are forwarded unchecked: validating them needs the tool's schema.
 */
export function validateStatelessMetadata(header: HeaderGetter, version: string, body: ParsedBody): void {
  const id = body.replyId;
  const message = body.messages[0]!;
  // 2026 streamable-http §Sending Messages: one request or notification per POST.
  if (body.batch || isResponse(message)) {
    throw new McpHttpError(400, INVALID_REQUEST, 'Invalid Request: a single request or notification', {
      id,
    });
  }
  const method = (message as { method: string }).method;
  const methodHeader = header('mcp-method');
  if (methodHeader === undefined) throw mismatch('Mcp-Method header is required', id);
  if (decodeHeaderValue(methodHeader) !== method) {
    throw mismatch(`Mcp-Method header does not match body method '${method}'`, id);
  }
  const params = (message as { params?: Record<string, unknown> }).params;
  const field = isRequest(message) ? NAMED_METHODS[method] : undefined;
  if (field) {
    const nameHeader = header('mcp-name');
    if (nameHeader === undefined) throw mismatch('Mcp-Name header is required', id);
    if (decodeHeaderValue(nameHeader) !== params?.[field]) {
      throw mismatch(`Mcp-Name header does not match params.${field}`, id);
    }
  }
  const meta = params?.['_meta'];
  const bodyVersion =
    typeof meta === 'object' && meta !== null
      ? (meta as Record<string, unknown>)[META_PROTOCOL_VERSION]
      : undefined;
  if (bodyVersion !== undefined && bodyVersion !== version) {
    throw mismatch(`MCP-Protocol-Version header does not match _meta ${META_PROTOCOL_VERSION}`, id);
  }
}
