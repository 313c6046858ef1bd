/**
 * RFC 9728 §3: protected resource metadata for the MCP endpoint, at the path-inserted well-known
 * URL and at the root one. `resource` is exactly the MCP URL clients use (§3.3, MCP R4).
 */
import type { GatewayContext } from '../context.js';

export function protectedResourceMetadata(ctx: GatewayContext): Record<string, unknown> {
  const { config } = ctx;
  return {
    resource: config.resource,
    authorization_servers: [config.issuer],
    scopes_supported: config.scopes.supported, // R11: never offline_access here
    bearer_methods_supported: ['header'], // OAuth 2.1 §5.1: no query, no body
    ...(config.resourceName ? { resource_name: config.resourceName } : {}),
  };
}

export async function handleProtectedResourceMetadata(
  _request: Request,
  ctx: GatewayContext,
): Promise<Response> {
  return Response.json(protectedResourceMetadata(ctx), {
    headers: { 'Cache-Control': 'public, max-age=300' },
  });
}
