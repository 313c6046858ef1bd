/**
 * Redirect URI policy (checked at registration) and matching (checked at /authorize).
 * - MCP §Communication Security / A10: https, or http on loopback; plus the private-use schemes
 *   the operator allows for native apps (RFC 8252 §7.1, e.g. `claude:`, `cursor:`).
 * - OIDC Registration §2 `application_type`: `web` clients use https only; `native` may use
 *   loopback and app schemes.
 * - OAuth 2.1 §4.1.1 / RFC 8252 §7.3: exact string match, except any port on a loopback IP.
 */
import { OAuthError } from '../../oauth/errors.js';

export interface RedirectPolicy {
  /** Allowed private-use schemes, without the colon. */
  schemes: readonly string[];
}

const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);

function fail(uri: string, why: string): never {
  throw new OAuthError('invalid_redirect_uri', `${truncate(uri)}: ${why}`);
}

function truncate(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Throws `invalid_redirect_uri` (RFC 7591 §3.2.2) unless the URI is allowed for this client type. */
export function assertAllowedRedirectUri(
  uri: string,
  policy: RedirectPolicy,
  applicationType: 'native' | 'web' | undefined,
): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    fail(uri, 'not an absolute URI');
  }
  if (uri.includes('#')) fail(uri, 'must not contain a fragment'); // RFC 6749 §3.1.2
  if (url.username || url.password) fail(uri, 'must not contain credentials');
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https') {
    if (!url.hostname) fail(uri, 'has no host');
    return;
  }
  if (scheme === 'http') {
    const loopback = LOOPBACK_IPS.has(url.hostname) || url.hostname === 'localhost';
    if (!loopback) fail(uri, 'http is allowed only on loopback (127.0.0.1, [::1], localhost)');
    if (applicationType === 'web') fail(uri, 'a web application cannot use a loopback redirect URI');
    return;
  }
  if (policy.schemes.includes(scheme)) {
    if (applicationType === 'web') fail(uri, 'a web application cannot use a private-use URI scheme');
    return;
  }
  fail(
    uri,
    `scheme ${scheme}: is not allowed (https, loopback http${policy.schemes.map((s) => `, ${s}:`).join('')})`,
  );
}

/**
 * The registered URI the requested one matches, or undefined. Exact string match only, plus
 * RFC 8252 §7.3: for loopback IP literals over http, the port may differ.
 */
export function matchRedirectUri(requested: string, registered: readonly string[]): string | undefined {
  if (registered.includes(requested)) return requested;
  const req = loopbackParts(requested);
  if (!req) return undefined;
  return registered.find((r) => {
    const reg = loopbackParts(r);
    return reg !== undefined && reg.host === req.host && reg.rest === req.rest;
  });
}

/** For `http://<loopback-ip>[:port]/path?query`: host and everything after the port, as written. */
function loopbackParts(uri: string): { host: string; rest: string } | undefined {
  const m = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::\d{1,5})?([/?][^#]*)?$/.exec(uri);
  if (!m) return undefined;
  return { host: m[1]!, rest: m[2] ?? '' };
}
