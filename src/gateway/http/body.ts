/**
 * Request bodies from untrusted callers: a size limit enforced while streaming (never trusting
 * Content-Length alone), the media type checked, and duplicate OAuth parameters refused.
 */
import { OAuthError } from '../../oauth/errors.js';

/** Reads at most `maxBytes` of the body; more is a 413 (the connection is not read further). */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(maxBytes: number) {
  return new OAuthError('invalid_request', `request body is larger than ${maxBytes} bytes`, { status: 413 });
}

function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * RFC 6749 §3.2 / §2.3.1: token, revocation and introspection requests are form-encoded;
 * §3.1: a parameter sent more than once is an invalid_request.
 */
export async function readForm(request: Request, maxBytes: number): Promise<Map<string, string>> {
  if (mediaType(request) !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await readBodyLimited(request, maxBytes));
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
