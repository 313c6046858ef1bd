/**
 * Which headers cross the gateway on the MCP path, in each direction.
 *
 * Toward the MCP server an allowlist: the Streamable HTTP headers and tracing, nothing else —
 * never the client's `Authorization` (R14), cookies, `Origin`, or a client-sent
 * `X-Portcullis-*` (identity headers are the gateway's to set).
 * Back to the client: everything but hop-by-hop headers (RFC 9110 §7.6.1) and the headers the
 * gateway owns on its MCP path (its challenge, its CORS policy, its cookies).
 */

/** MCP transports: session, version, resumption; 2026: `Mcp-Method`, `Mcp-Name` (T7). */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'user-agent',
  'traceparent',
  'tracestate',
  'baggage',
];
/** T8/T9: an intermediary forwards every `Mcp-Param-*` header, known or not. */
const FORWARDED_REQUEST_PREFIX = 'mcp-param-';

/** RFC 9110 §7.6.1 connection-specific fields, plus the gateway-owned ones. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The gateway is the resource server the client sees: an upstream challenge would send the
  // client to the upstream's authorization server (R14 in reverse).
  'www-authenticate',
  // Cookies set by the upstream would land on the gateway's origin, next to its consent cookies.
  'set-cookie',
  'set-cookie2',
  // CORS on /mcp is the gateway's policy (configured origins only), not the upstream's.
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-headers',
  'access-control-allow-methods',
  'access-control-expose-headers',
  'access-control-max-age',
]);

export const IDENTITY_HEADER_PREFIX = 'x-portcullis-';

export type HeaderRecord = Record<string, string>;

/** Builds the request-header filter, with any extra names the deployment forwards. */
export function requestHeaderFilter(extra: readonly string[] = []): (name: string) => boolean {
  const allowed = new Set([...FORWARDED_REQUEST_HEADERS, ...extra.map((h) => h.toLowerCase())]);
  for (const name of allowed) {
    if (name === 'authorization' || name === 'cookie' || name.startsWith(IDENTITY_HEADER_PREFIX)) {
      throw new TypeError(`the MCP proxy never forwards the client's ${name} header`);
    }
  }
  return (name) => allowed.has(name) || name.startsWith(FORWARDED_REQUEST_PREFIX);
}

/**
 * The upstream's raw response headers (`name, value, …`) as the client may see them: names
 * lower-cased, dropped ones removed, and so are names listed in `Connection` (RFC 9110 §7.6.1).
 */
export function forwardableResponseHeaders(raw: readonly string[]): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    const value = raw[i + 1]!.toLowerCase();
    if (value !== 'keep-alive' && value !== 'close') {
      listed ??= new Set();
      for (const token of value.split(',')) listed.add(token.trim());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(name) || listed?.has(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** RFC 9110 §5.5: visible ASCII, space and tab; no leading or trailing whitespace. */
const HEADER_SAFE = /^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/;
const SENTINEL = /^=\?base64\?.*\?=$/;

/**
 * A value as a header: as-is when header-safe, else `=?base64?…?=` of its UTF-8 — the encoding
 * MCP 2026 streamable-http §Value Encoding defines for `Mcp-Param-*`, reused for identity headers.
 */
export function encodeHeaderValue(value: string): string {
  if (value === '' || (HEADER_SAFE.test(value) && !SENTINEL.test(value))) return value;
  return `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** Decodes `encodeHeaderValue`; undefined when the sentinel wraps something that is not base64. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!SENTINEL.test(value)) return value;
  const b64 = value.slice('=?base64?'.length, -'?='.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  return Buffer.from(b64, 'base64').toString('utf8');
}

const identityCache = new WeakMap<object, readonly string[]>();

/** The identity headers (flat `name, value, …`) an HTTP upstream receives about the caller. */
export function identityHeaders(p: {
  userId: string;
  clientId: string;
  scopes: string[];
}): readonly string[] {
  let flat = identityCache.get(p);
  if (!flat) {
    flat = [
      'x-portcullis-user',
      encodeHeaderValue(p.userId),
      'x-portcullis-client',
      encodeHeaderValue(p.clientId),
      'x-portcullis-scopes',
      encodeHeaderValue(p.scopes.join(' ')),
    ];
    identityCache.set(p, flat); // a principal is fixed for its token's lifetime
  }
  return flat;
}
