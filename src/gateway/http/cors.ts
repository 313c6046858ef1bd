/**
 * CORS for browser-based MCP clients (web inspectors, chat apps).
 * - Public AS endpoints (metadata, PRM, /register, /token, /revoke): any origin, no credentials
 *   (they authenticate by parameters, never by cookie).
 * - The MCP endpoint: configured origins only, exposing the headers a client must read.
 * The consent and login pages get no CORS at all.
 */
const MCP_EXPOSE = 'Mcp-Session-Id, WWW-Authenticate, Mcp-Protocol-Version';
const MCP_METHODS = 'GET, POST, DELETE, OPTIONS';
const PUBLIC_METHODS = 'GET, POST, OPTIONS';
/** Request headers a browser MCP client may send (2025-11-25 and 2026-07-28 transports). */
const MCP_ALLOWED_HEADER = /^(authorization|content-type|accept|last-event-id|mcp-[a-z0-9-]+)$/i;

export type CorsPolicy = { kind: 'public' } | { kind: 'mcp'; origins: ReadonlySet<string> };

/** The CORS headers for a response to a request from `origin` (none without an Origin). */
export function corsHeaders(origin: string | null | undefined, policy: CorsPolicy): Record<string, string> {
  if (!origin) return {};
  if (policy.kind === 'public') {
    return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'WWW-Authenticate' };
  }
  if (!policy.origins.has(origin)) return {};
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': MCP_EXPOSE,
    Vary: 'Origin',
  };
}

/** Answers an OPTIONS preflight; a disallowed origin gets 204 without CORS headers (the browser blocks). */
export function preflightResponse(request: Request, policy: CorsPolicy): Response {
  const base = corsHeaders(request.headers.get('origin'), policy);
  if (!base['Access-Control-Allow-Origin'])
    return new Response(null, { status: 204, headers: { Vary: 'Origin' } });
  const requested = (request.headers.get('access-control-request-headers') ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const allowed =
    policy.kind === 'public'
      ? ['authorization', 'content-type', 'accept', 'mcp-protocol-version'].join(', ')
      : requested.filter((h) => MCP_ALLOWED_HEADER.test(h)).join(', ');
  return new Response(null, {
    status: 204,
    headers: {
      ...base,
      'Access-Control-Allow-Methods': policy.kind === 'public' ? PUBLIC_METHODS : MCP_METHODS,
      ...(allowed ? { 'Access-Control-Allow-Headers': allowed } : {}),
      'Access-Control-Max-Age': '600',
    },
  });
}

/** Adds CORS headers to a response already built (headers of fetch Responses may be immutable). */
export function withCors(response: Response, headers: Record<string, string>): Response {
  if (Object.keys(headers).length === 0) return response;
  try {
    for (const [k, v] of Object.entries(headers)) response.headers.set(k, v);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const [k, v] of Object.entries(headers)) copy.headers.set(k, v);
    return copy;
  }
}
