/**
 * Where the MCP side's own answers leave: transport-level errors as JSON-RPC bodies, plain JSON,
 * and empty statuses, for both the fetch-style and the node:http paths.
 */
import type { ServerResponse } from 'node:http';
import { INTERNAL_ERROR, type JsonRpcId, McpHttpError } from './jsonrpc.js';

const JSON_TYPE = 'application/json';

/** A thrown `McpHttpError` as a `Response`; anything else is rethrown for the gateway's renderer. */
export function errorToResponse(err: unknown): Response {
  if (!(err instanceof McpHttpError)) throw err;
  return new Response(JSON.stringify(err.body()), {
    status: err.status,
    headers: { 'content-type': JSON_TYPE, ...err.headers },
  });
}

/** The node:http twin of `errorToResponse`; rethrows what it does not render. */
export function writeNodeError(res: ServerResponse, err: unknown): void {
  if (!(err instanceof McpHttpError)) throw err;
  writeNodeJson(res, err.status, err.body(), err.headers);
}

export function writeNodeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The 502 both upstream kinds answer with when the MCP server cannot be reached or fails. */
export function badGateway(message: string, cause?: unknown, id: JsonRpcId | null = null): McpHttpError {
  return new McpHttpError(502, INTERNAL_ERROR, message, { cause, id });
}
