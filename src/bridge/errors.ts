/**
 * How a failure on the HTTP leg reaches the host: as the JSON-RPC error of the request that
 * caused it, with a message a person can act on and a stable `data.code` a host can switch on.
 */
import { isClientError } from '../client/errors.js';
import { causeMessages, isTransportError } from '../transport/errors.js';
import type { JsonRpcErrorObject } from '../transport/jsonrpc.js';

/** JSON-RPC 2.0 §5.1: -32000 to -32099 are for implementation-defined server errors. */
export const BRIDGE_ERROR_CODE = -32000;

export type BridgeFailureCode =
  | 'server_unreachable'
  | 'http_error'
  | 'malformed_response'
  | 'message_too_large'
  | 'session_lost'
  | 'not_streamable_http'
  | 'bridge_closing'
  | 'internal_error';

/** The JSON-RPC error object for a failed exchange with the MCP server at `origin`. */
export function bridgeErrorFor(error: unknown, origin: string): JsonRpcErrorObject {
  const prefix = `portcullis connect: ${origin}`;
  // The client core's errors (reauth_required, authorization_required, …) arrive as a fetch failure's cause.
  const cause = isTransportError(error) ? error.cause : error;
  if (isClientError(cause)) {
    return { code: BRIDGE_ERROR_CODE, message: `${prefix}: ${cause.message}`, data: { code: cause.code } };
  }
  if (!isTransportError(error)) {
    const detail = error instanceof Error ? error.message : String(error);
    return { code: BRIDGE_ERROR_CODE, message: `${prefix}: ${detail}`, data: { code: 'internal_error' } };
  }
  const code: BridgeFailureCode =
    error.code === 'network'
      ? 'server_unreachable'
      : error.code === 'closed'
        ? 'bridge_closing'
        : error.code === 'session_expired'
          ? 'session_lost'
          : error.code;
  // fetch's own "fetch failed" says nothing; the innermost cause (refused, certificate…) does.
  const why = error.code === 'network' && error.cause ? ` (${causeMessages(error.cause).at(-1)})` : '';
  return {
    code: BRIDGE_ERROR_CODE,
    message: `${prefix}: ${error.message}${why}`,
    data: { code, ...(error.status !== undefined ? { status: error.status } : {}) },
  };
}
