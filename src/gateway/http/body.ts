/**
 * Request bodies from untrusted callers: a size limit enforced while streaming (never trusting
 * Content-Length alone), the media type checked, and duplicate OAuth parameters refused.
 */
import { OAuthError } from '../../oauth/errors.js';
import { readLimited, TOO_LARGE } from '../../oauth/read-limited.js';

/** Reads at most `maxBytes` of the body; more is a 413 (the connection is not read further). */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const body = await readLimited(request.body, request.headers, maxBytes);
  if (body === TOO_LARGE) throw tooLarge(maxBytes);
  return body;
}

function tooLarge(maxBytes: number) {
  return new OAuthError('invalid_request', `request body is larger than ${maxBytes} bytes`, { status: 413 });
}

function mediaType(request: Request): string {
  return mediaTypeOf(request.headers.get('content-type'));
}

function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function assertForm(contentType: string | null): void {
  if (mediaTypeOf(contentType) !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
}

/**
 * RFC 6749 §3.2 / §2.3.1: token, revocation and introspection requests are form-encoded;
 * §3.1: a parameter sent more than once is an invalid_request.
 */
export async function readForm(request: Request, maxBytes: number): Promise<Map<string, string>> {
  assertForm(request.headers.get('content-type'));
  return parseForm(request.headers.get('content-type'), await readBodyLimited(request, maxBytes));
}

/** `readForm` for a body already read (within the size limit) by the Node server. */
export function parseForm(contentType: string | null, body: Uint8Array): Map<string, string> {
  assertForm(contentType);
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return singleValued(new URLSearchParams(text));
}

/** RFC 6749 §3.1: no parameter more than once; empty values count as absent. */
export function singleValued(params: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (out.has(k)) throw new OAuthError('invalid_request', `parameter ${k} was sent more than once`);
    if (v !== '') out.set(k, v);
  }
  return out;
}

/** A JSON object body (RFC 7591 §3.1); anything else is `errorCode` (e.g. invalid_client_metadata). */
export async function readJsonObject(
  request: Request,
  maxBytes: number,
  errorCode = 'invalid_request',
): Promise<Record<string, unknown>> {
  if (mediaType(request) !== 'application/json') {
    throw new OAuthError(errorCode, 'the body must be application/json');
  }
  const bytes = await readBodyLimited(request, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new OAuthError(errorCode, 'the body is not valid JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OAuthError(errorCode, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
