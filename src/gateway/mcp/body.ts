/**
 * POST bodies on the MCP path: read within a size limit (413 beyond it) and parsed as JSON-RPC
 * (400 for malformed JSON or a non-JSON-RPC body — MCP §Error Handling, R16).
 */
import type { IncomingMessage } from 'node:http';
import { readLimited, TOO_LARGE } from '../../oauth/read-limited.js';
import {
  asMessage,
  INVALID_REQUEST,
  isRequest,
  type JsonRpcId,
  type JsonRpcMessage,
  McpHttpError,
  PARSE_ERROR,
  SERVER_ERROR,
} from './jsonrpc.js';

/** Default POST body limit: 4 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

function tooLarge(limit: number): McpHttpError {
  return new McpHttpError(413, SERVER_ERROR, `request body exceeds ${limit} bytes`);
}

function checkDeclaredLength(declared: string | null | undefined, limit: number): void {
  if (declared && Number(declared) > limit) throw tooLarge(limit);
}

/** Reads a node request body; rejects with 413 as soon as the limit is passed. */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  checkDeclaredLength(req.headers['content-length'], limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain the rest so the connection can answer 413
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Reads a fetch `Request` body within the limit (the shared bounded reader). */
export async function readWebBody(request: Request, limit: number): Promise<Buffer> {
  const body = await readLimited(request.body, request.headers, limit);
  if (body === TOO_LARGE) throw tooLarge(limit);
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** A parsed POST body: one message, or a batch (2025-03-26 clients may still send one). */
export interface ParsedBody {
  messages: JsonRpcMessage[];
  batch: boolean;
  /** The id to answer a transport-level error with: the single request's id, else null. */
  replyId: JsonRpcId | null;
}

export function parseJsonRpcBody(raw: Buffer): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new McpHttpError(400, PARSE_ERROR, 'Parse error: the body is not valid JSON', { cause });
  }
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? (value as unknown[]) : [value];
  if (items.length === 0) throw new McpHttpError(400, INVALID_REQUEST, 'Invalid Request: empty batch');
  const messages: JsonRpcMessage[] = [];
  for (const item of items) {
    const message = asMessage(item);
    if (!message) throw new McpHttpError(400, INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message');
    messages.push(message);
  }
  const only = messages[0]!;
  return { messages, batch, replyId: !batch && isRequest(only) ? only.id : null };
}
