/**
 * URL rules shared by both ends of the wire.
 * - OAuth 2.1 §1.5 / MCP §Communication Security: endpoints are https, http only on loopback.
 * - MCP SBP (2026) / C39: an authorization URL is opened only if it is http(s) (allowlist).
 * - MCP §Canonical Server URI (RFC 8707): lowercase scheme and host, no fragment.
 */
import { OAuthError } from './errors.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** RFC 8252 §8.3: loopback IP literals, plus `localhost` for endpoints we fetch. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return LOOPBACK_HOSTS.has(h) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h.endsWith('.localhost');
}

/** Parses a URL or throws an `OAuthError('invalid_request')` that names what was wrong. */
export function parseUrl(input: string | URL, what: string): URL {
  try {
    return new URL(input);
  } catch (cause) {
    throw new OAuthError('invalid_request', `${what} is not a valid URL`, { cause });
  }
}

/**
 * https, or http on a loopback host; any other scheme refused. `allowHttp` lets a user opt in
 * to cleartext to a non-loopback host (the bridge's `--allow-http`).
 */
export function assertSecureUrl(input: string | URL, what: string, opts: { allowHttp?: boolean } = {}): URL {
  const url = parseUrl(input, what);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (isLoopbackHost(url.hostname) || opts.allowHttp)) return url;
  const detail =
    url.protocol === 'http:'
      ? `${what} must use https (http is allowed only on loopback): ${url.origin}`
      : `${what} must be an https URL, not ${url.protocol}`;
  throw new OAuthError('invalid_request', detail);
}

/** C39: a URL we hand to a browser must be http(s); `javascript:`, `file:`, `data:` … are refused. */
export function assertBrowserUrl(input: string | URL): URL {
  const url = parseUrl(input, 'authorization URL');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OAuthError(
      'invalid_request',
      `refusing to open an authorization URL with scheme ${url.protocol}`,
    );
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new OAuthError('invalid_request', `refusing to open a cleartext authorization URL on ${url.host}`);
  }
  if (url.username || url.password) {
    throw new OAuthError('invalid_request', 'refusing to open an authorization URL with credentials in it');
  }
  return url;
}

/**
 * MCP §Canonical Server URI: lowercase scheme and host (the URL parser does that), no fragment,
 * and no trailing slash on a bare origin. Query strings are kept.
 */
export function canonicalResourceUrl(input: string | URL): string {
  const url = parseUrl(input, 'MCP server URL');
  url.hash = '';
  const s = url.href;
  return url.pathname === '/' && !url.search ? s.slice(0, -1) : s;
}

/** RFC 9728 §3.1 / RFC 8414 §3.1: insert a well-known segment between origin and path. */
export function wellKnownUrl(base: string | URL, suffix: string, mode: 'insert' | 'root' | 'append'): URL {
  const url = parseUrl(base, 'URL');
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const out = new URL(url.origin);
  if (mode === 'insert') out.pathname = `/.well-known/${suffix}${path}`;
  else if (mode === 'root') out.pathname = `/.well-known/${suffix}`;
  else out.pathname = `${path}/.well-known/${suffix}`;
  return out;
}
