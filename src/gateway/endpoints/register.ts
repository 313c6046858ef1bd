/**
 * RFC 7591 dynamic client registration (MCP: MAY; deprecated in 2026-07-28 in favour of CIMD).
 * Metadata validated at the edge; redirect URIs held to the gateway's policy
 * (`invalid_redirect_uri`); confidential clients get a secret that is stored only hashed.
 */
import { OAuthError } from '../../oauth/errors.js';
import { ClientMetadata } from '../../oauth/metadata.js';
import { randomToken } from '../../oauth/pkce.js';
import { assertAllowedRedirectUri } from '../clients/redirect-uris.js';
import { sha256 } from '../clients/registry.js';
import type { RegisteredClient, TokenEndpointAuthMethod } from '../clients/types.js';
import { clientIp, enforceRateLimit, type GatewayContext, type RequestInfo } from '../context.js';
import { NO_STORE } from '../errors.js';
import { readJsonObject } from '../http/body.js';

const AUTH_METHODS = new Set<string>(['none', 'client_secret_basic', 'client_secret_post']);
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token']);

function invalidMetadata(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

export async function handleRegister(
  request: Request,
  ctx: GatewayContext,
  info: RequestInfo,
): Promise<Response> {
  if (!ctx.config.registration.enabled) {
    throw new OAuthError('access_denied', 'dynamic client registration is disabled', { status: 403 });
  }
  enforceRateLimit(ctx, 'register', [`ip:${clientIp(request, info, ctx.config.trustProxy)}`]);
  const body = await readJsonObject(request, ctx.config.maxBodyBytes, 'invalid_client_metadata');
  const parsed = ClientMetadata.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidMetadata(`${issue?.path.join('.') || 'metadata'}: ${issue?.message ?? 'invalid'}`);
  }
  const meta = parsed.data;

  // RFC 7591 §2: defaults are client_secret_basic, ["authorization_code"], ["code"].
  const method = (meta.token_endpoint_auth_method ?? 'client_secret_basic') as TokenEndpointAuthMethod;
  if (!AUTH_METHODS.has(method))
    throw invalidMetadata(`token_endpoint_auth_method ${method} is not supported`);
  const grantTypes = meta.grant_types ?? ['authorization_code'];
  const unknownGrant = grantTypes.find((g) => !GRANT_TYPES.has(g));
  if (unknownGrant) throw invalidMetadata(`grant type ${unknownGrant} is not supported`);
  if (!grantTypes.includes('authorization_code'))
    throw invalidMetadata('grant_types must include authorization_code');
  const responseTypes = meta.response_types ?? ['code'];
  if (responseTypes.length !== 1 || responseTypes[0] !== 'code')
    throw invalidMetadata('response_types must be ["code"]');
  if (meta.scope) {
    const allowed = new Set([...ctx.config.scopes.supported, 'offline_access']);
    const unknown = meta.scope.split(' ').filter((s) => s && !allowed.has(s));
    if (unknown.length) throw invalidMetadata(`unknown scope: ${unknown.join(' ')}`);
  }
  const redirectUris = meta.redirect_uris ?? [];
  if (redirectUris.length === 0) throw new OAuthError('invalid_redirect_uri', 'redirect_uris is required');
  for (const uri of redirectUris) assertAllowedRedirectUri(uri, ctx.redirectPolicy, meta.application_type);

  const now = ctx.clock();
  const clientId = `dcr_${randomToken(16)}`;
  const secret = method === 'none' ? undefined : `pcs_${randomToken(32)}`;
  const client: RegisteredClient = {
    clientId,
    ...(meta.client_name ? { clientName: meta.client_name } : {}),
    ...(meta.client_uri ? { clientUri: meta.client_uri } : {}),
    redirectUris,
    tokenEndpointAuthMethod: method,
    grantTypes,
    ...(meta.application_type ? { applicationType: meta.application_type } : {}),
    ...(secret ? { secretHash: sha256(secret) } : {}),
    source: { kind: 'dcr', registeredAt: now },
  };
  await ctx.clients.saveRegistered(client);
  ctx.logger.info({ clientId, method, redirectHosts: redirectUris.map(hostOf) }, 'client registered');

  // RFC 7591 §3.2.1: the registered metadata, with the id (and secret) issued.
  return Response.json(
    {
      client_id: clientId,
      client_id_issued_at: Math.floor(now / 1000),
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      redirect_uris: redirectUris,
      token_endpoint_auth_method: method,
      grant_types: grantTypes,
      response_types: responseTypes,
      ...(meta.client_name ? { client_name: meta.client_name } : {}),
      ...(meta.client_uri ? { client_uri: meta.client_uri } : {}),
      ...(meta.application_type ? { application_type: meta.application_type } : {}),
      ...(meta.scope ? { scope: meta.scope } : {}),
    },
    { status: 201, headers: NO_STORE },
  );
}

function hostOf(uri: string): string {
  try {
    return new URL(uri).host || new URL(uri).protocol;
  } catch {
    return '?';
  }
}
