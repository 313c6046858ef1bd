/**
 * The MCP endpoint's front door, run on every request before the MCP side sees it:
 * 1. Origin and Host (DNS rebinding; transports §Security Warning, T1) — the MCP side's policy;
 * 2. the bearer check (MCP §Token Handling, R6, R12, R13, R17): 401 without a token or with a
 *    bad, expired or foreign-audience one; 403 `insufficient_scope`. A token in the query string
 *    is ignored and never accepted (R15);
 * 3. the client's token goes no further (R14): the Authorization header and any `access_token`
 *    query parameter are stripped from what the MCP side receives.
 * Both the fetch-style path and the node:http fast path (server.ts) go through `admitMcpRequest`.
 */
import { OAuthError } from '../../oauth/errors.js';
import type { GatewayContext } from '../context.js';
import { renderError } from '../errors.js';
import { type CorsPolicy, corsHeaders, preflightResponse, withCors } from '../http/cors.js';
import { createOriginPolicy, type OriginPolicy } from '../mcp/origin.js';
import { errorToResponse } from '../mcp/render.js';
import type { McpPrincipal } from '../mcp/types.js';
import type { AccessTokenGranted, GrantRecord } from '../tokens/grants.js';

export interface McpRequestHead {
  origin: string | undefined;
  host: string | undefined;
  authorization: string | undefined;
}

export type McpAdmission =
  | { ok: true; principal: McpPrincipal; cors: Record<string, string> }
  | { ok: false; response: Response };

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i; // RFC 6750 §2.1 b64token

/** The browser-facing policies of the MCP path, built once per gateway. */
export interface McpDoorPolicies {
  origins: OriginPolicy;
  cors: CorsPolicy;
}

export function mcpDoorPolicies(ctx: GatewayContext): McpDoorPolicies {
  return {
    origins: createOriginPolicy({ publicUrl: ctx.config.resource, allowedOrigins: ctx.config.corsOrigins }),
    cors: { kind: 'mcp', origins: new Set(ctx.config.corsOrigins) },
  };
}

/** Decides whether a request to the MCP path may proceed, and as whom. */
export async function admitMcpRequest(
  head: McpRequestHead,
  ctx: GatewayContext,
  door: McpDoorPolicies,
): Promise<McpAdmission> {
  const cors = corsHeaders(head.origin, door.cors);
  const refusal = door.origins.check(head.origin, head.host);
  if (refusal) return { ok: false, response: withCors(errorToResponse(refusal), cors) };
  const match = head.authorization ? BEARER.exec(head.authorization) : null;
  if (!match) {
    // RFC 6750 §3.1: no usable credentials (none, another scheme, or only a query token): no error code.
    const err = new OAuthError('invalid_token', 'a bearer token is required');
    return { ok: false, response: renderError(err, { ...bearerChallenge(ctx, cors), noCredentials: true }) };
  }
  const verified = await verifyAccessToken(match[1]!, ctx);
  if (!verified.ok) return { ok: false, response: renderError(verified.error, bearerChallenge(ctx, cors)) };
  return { ok: true, principal: verified.principal, cors };
}

/** The `WWW-Authenticate: Bearer` challenge of a refusal (built only when refusing). */
function bearerChallenge(ctx: GatewayContext, cors: Record<string, string>) {
  return {
    kind: 'bearer' as const,
    resourceMetadata: ctx.urls.protectedResourceMetadata, // RFC 9728 §5.1
    scope: ctx.config.requiredScopes.join(' '), // MCP R7
    headers: cors,
  };
}

/**
 * The bearer check: a token this gateway issued, unexpired, unrevoked, for this MCP URL
 * (RFC 8707, R13), carrying the required scopes — and the principal it stands for.
 */
export async function verifyAccessToken(
  token: string,
  ctx: GatewayContext,
): Promise<{ ok: true; principal: McpPrincipal } | { ok: false; error: OAuthError }> {
  const check = await ctx.grants.verifyAccessToken(token, ctx.config.resource);
  if (!check.ok) {
    const why = {
      unknown: 'the access token is invalid or revoked',
      expired: 'the access token has expired',
      audience: 'the access token was issued for another resource',
    }[check.reason];
    return { ok: false, error: new OAuthError('invalid_token', why) };
  }
  if (!ctx.config.requiredScopes.every((s) => check.scopes.includes(s))) {
    const missing = ctx.config.requiredScopes.filter((s) => !check.scopes.includes(s));
    // MCP §Runtime Insufficient Scope Errors / R9: name every scope needed in one challenge.
    const scope = [...new Set([...check.scopes, ...ctx.config.requiredScopes])].join(' ');
    const error = new OAuthError('insufficient_scope', `this request needs scope ${missing.join(' ')}`, {
      extra: { scope },
    });
    return { ok: false, error };
  }
  let principal = principals.get(check);
  if (!principal) {
    principal = principalOf(check.grant, check.scopes, ctx);
    principals.set(check, principal);
  }
  return { ok: true, principal };
}

/** One principal per successful check: a remembered token answers the same check object again. */
const principals = new WeakMap<AccessTokenGranted, McpPrincipal>();

function principalOf(grant: GrantRecord, scopes: string[], ctx: GatewayContext): McpPrincipal {
  const loginId = grant.loginId;
  return {
    userId: grant.userId,
    clientId: grant.clientId,
    scopes,
    resource: grant.resource,
    claims: grant.claims,
    upstreamAccessToken: async () => (loginId ? ctx.logins.accessToken(loginId) : undefined),
  };
}

export async function handleMcp(
  request: Request,
  ctx: GatewayContext,
  door: McpDoorPolicies,
): Promise<Response> {
  if (request.method === 'OPTIONS') return preflightResponse(request, door.cors);
  const admission = await admitMcpRequest(
    {
      origin: request.headers.get('origin') ?? undefined,
      host: request.headers.get('host') ?? new URL(request.url).host,
      authorization: request.headers.get('authorization') ?? undefined,
    },
    ctx,
    door,
  );
  if (!admission.ok) return admission.response;
  if (!ctx.mcp) {
    const err = new OAuthError('temporarily_unavailable', 'no MCP server is configured', { status: 503 });
    return renderError(err, { kind: 'json', headers: admission.cors });
  }
  const response = await ctx.mcp.handle(withoutClientToken(request), admission.principal);
  return withCors(response, admission.cors);
}

/** The request as the MCP side may see it: no Authorization header, no `access_token` in the query. */
export function withoutClientToken(request: Request): Request {
  const url = new URL(request.url);
  url.searchParams.delete('access_token');
  const headers = new Headers(request.headers);
  headers.delete('authorization');
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== null;
  return new Request(url, {
    method: request.method,
    headers,
    signal: request.signal,
    ...(hasBody ? { body: request.body, duplex: 'half' } : {}),
  } as RequestInit);
}
