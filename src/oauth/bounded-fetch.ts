/**
 * Fetch with a deadline and a response-size limit: metadata, registration and token responses
 * come from servers we do not control, so a slow or endless body must not hang or exhaust us.
 */
import { OAuthError } from './errors.js';
import { readLimited, TOO_LARGE } from './read-limited.js';

export interface BoundedFetchOptions {
  fetch?: typeof fetch;
  /** Whole request, headers and body included. Default 10 s. */
  timeoutMs?: number;
  /** Maximum body bytes. Default 256 KiB. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BYTES = 256 * 1024;

/**
 * Performs the request and buffers the body within the limits; returns a fresh `Response`
 * whose body is the buffered bytes (so oauth4webapi's `process*` functions can read it).
 */
export async function boundedFetch(
  input: string | URL,
  init: RequestInit = {},
  opts: BoundedFetchOptions = {},
): Promise<Response> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([
    timeout,
    ...(opts.signal ? [opts.signal] : []),
    ...(init.signal ? [init.signal] : []),
  ]);
  const url = typeof input === 'string' ? input : input.href;
  const where = safeOrigin(url);
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(url, { ...init, signal });
  } catch (cause) {
    if (timeout.aborted)
      throw new OAuthError('temporarily_unavailable', `${where} did not answer within ${timeoutMs} ms`, {
        cause,
      });
    if (signal.aborted) throw cause;
    throw new OAuthError('temporarily_unavailable', `could not reach ${where}`, { cause });
  }
  const body = await readBody(response, maxBytes, where, timeout, timeoutMs);
  return new Response(body.byteLength || !nullBodyStatus(response.status) ? body : null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function nullBodyStatus(status: number) {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

async function readBody(
  response: Response,
  maxBytes: number,
  where: string,
  timeout: AbortSignal,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  let body: Awaited<ReturnType<typeof readLimited>>;
  try {
    body = await readLimited(response.body, response.headers, maxBytes);
  } catch (cause) {
    if (timeout.aborted)
      throw new OAuthError('temporarily_unavailable', `${where} did not finish within ${timeoutMs} ms`, {
        cause,
      });
    throw new OAuthError('temporarily_unavailable', `reading the response from ${where} failed`, { cause });
  }
  if (body === TOO_LARGE) {
    throw new OAuthError('invalid_response', `response from ${where} is larger than ${maxBytes} bytes`);
  }
  return body;
}

/** Origin + path, never the query (which may carry a code or state). */
export function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
