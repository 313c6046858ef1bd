/**
 * RFC 8414 §3: authorization server metadata, served at the path-inserted well-known URL (and at
 * the root one for clients of MCP 2025-06-18). `issuer` is exactly the configured issuer (§3.3).
 */
import type { GatewayContext } from '../context.js';

export function authorizationServerMetadata(ctx: GatewayContext): Record<string, unknown> {
  const { config, urls } = ctx;
  return {
    issuer: config.issuer,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    ...(config.registration.enabled ? { registration_endpoint: urls.register } : {}),
    revocation_endpoint: urls.revoke,
    introspection_endpoint: urls.introspect,
    scopes_supported: [...config.scopes.supported, 'offline_access'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'], // OAuth 2.1 §4.1.1: S256 only
    authorization_response_iss_parameter_supported: true, // RFC 9207 §3
    client_id_metadata_document_supported: config.cimd.enabled, // CIMD §5
  };
}

export async function handleAuthorizationServerMetadata(
  _request: Request,
  ctx: GatewayContext,
): Promise<Response> {
  return Response.json(authorizationServerMetadata(ctx), {
    headers: { 'Cache-Control': 'public, max-age=300' },
  });
}
