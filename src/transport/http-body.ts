/**
 * Reading HTTP response bodies within a size limit, and telling JSON, SSE and JSON-RPC error
 * bodies apart. Small and here (rather than `res.text()`) because a server must not be able to
 * make the bridge buffer an unbounded body.
 */
import { readLimited, TOO_LARGE } from '../oauth/read-limited.js';
import { TransportError } from './errors.js';
import { type JsonRpcFailure, type JsonRpcId, type JsonRpcMessage, parseJsonRpcMessage } from './jsonrpc.js';

export type BodyKind = 'json' | 'sse' | 'none' | 'other';

export function bodyKind(res: Response): BodyKind {
  if (res.status === 202 || res.status === 204 || res.body === null) return 'none';
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/event-stream') return 'sse';
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (res.headers.get('content-length') === '0') return 'none';
  return 'other';
}

/** Reads the whole body as UTF-8, failing with `message_too_large` past `maxBytes`. */
export async function readBodyText(res: Response, maxBytes: number): Promise<string> {
  const body = await readLimited(res.body, res.headers, maxBytes);
  if (body === TOO_LARGE) throw tooLarge(maxBytes);
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

/** A short, printable excerpt of an error body for logs and error messages. */
export async function errorBodyExcerpt(res: Response, maxBytes = 4096): Promise<string> {
  try {
    const text = await readBodyText(res, 64 * 1024);
    return text.slice(0, maxBytes).replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The JSON-RPC error object in a non-2xx body, if the body is one (e.g. 400 -32022, 404 -32601). */
export function jsonRpcErrorIn(text: string): JsonRpcFailure | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const outcome = parseJsonRpcMessage(JSON.parse(text));
    return outcome.ok && 'error' in outcome.message ? (outcome.message as JsonRpcFailure) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a JSON body into messages (a batch array from a 2025-03-26 server is accepted). */
export function messagesInJson(text: string): { messages: JsonRpcMessage[]; raws: (string | undefined)[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TransportError('malformed_response', 'the server answered with invalid JSON', { cause });
  }
  const items = Array.isArray(value) ? value : [value];
  const messages: JsonRpcMessage[] = [];
  for (const item of items) {
    const outcome = parseJsonRpcMessage(item);
    if (!outcome.ok) {
      throw new TransportError('malformed_response', `the server answered with ${outcome.error.message}`);
    }
    messages.push(outcome.message);
  }
  // A single message keeps its text, so the bridge can forward it without re-serialising.
  return { messages, raws: Array.isArray(value) ? messages.map(() => undefined) : [text.trim()] };
}

/**
 * What a non-2xx answer to a POST means: the session is gone (404 with a session id,
 * 2025-11-25 §Session Management), an HTTP+SSE server (§Backward Compatibility: 405, or a
 * 400/404 without a JSON-RPC error, on first contact), a modern server's JSON-RPC error that is
 * the request's answer (400 unsupported version, 404 unknown method…), or a plain HTTP failure.
 */
export function classifyPostFailure(
  status: number,
  body: string,
  ctx: { sentSession: string | undefined; firstContact: boolean; requestId: JsonRpcId | undefined },
): TransportError | JsonRpcFailure {
  if (status === 404 && ctx.sentSession) {
    return new TransportError('session_expired', 'the server ended the session (HTTP 404)', {
      status,
      sessionId: ctx.sentSession,
    });
  }
  if (ctx.firstContact && status === 405) return notStreamable(status);
  const rpcError = jsonRpcErrorIn(body);
  if (rpcError && ctx.requestId !== undefined) return { ...rpcError, id: rpcError.id ?? ctx.requestId };
  if (ctx.firstContact && (status === 404 || status === 400)) return notStreamable(status);
  const detail = rpcError?.error.message ?? body.slice(0, 300).replace(/\s+/g, ' ');
  return new TransportError(
    'http_error',
    `the server answered HTTP ${status}${detail ? `: ${detail}` : ''}`,
    {
      status,
      sessionId: ctx.sentSession,
    },
  );
}

function notStreamable(status: number): TransportError {
  return new TransportError(
    'not_streamable_http',
    `the server answered HTTP ${status} to a Streamable HTTP POST; it may speak the older HTTP+SSE transport`,
    { status },
  );
}

function tooLarge(maxBytes: number): TransportError {
  return new TransportError('message_too_large', `the server's message exceeded the ${maxBytes}-byte limit`);
}
