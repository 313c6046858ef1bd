/**
 * The token endpoint (OAuth 2.1 §3.2): authorization_code (§4.1.3) and refresh_token (§4.3).
 * Clients authenticate with their registered method; responses are never cached (§3.2.3).
 *
 * Two doors, one logic: `handleToken` for the fetch-style handler, and `serveToken` for the
 * Node server's fast path, which reads the (small, bounded) body itself and writes plain JSON
 * rather than building fetch `Request`/`Response` objects and their web streams (about a
 * third of a refresh's CPU on Node 20).
 */
import { OAuthError } from '../../oauth/errors.js';
import { authenticateClient } from '../clients/authenticate.js';
import {
  clientIp,
  enforceRateLimit,
  type GatewayContext,
  type HeaderSource,
  type RequestInfo,
} from '../context.js';
import { NO_STORE, type PlainResponse, plainJson, plainJsonError } from '../errors.js';
import { parseForm, readForm } from '../http/body.js';
import type { TokenSet } from '../tokens/grants.js';

export async function handleToken(
  request: Request,
  ctx: GatewayContext,
  info: RequestInfo,
): Promise<Response> {
  enforceRateLimit(ctx, 'token', [`ip:${clientIp(request, info, ctx.config.trustProxy)}`]);
  const form = await readForm(request, ctx.config.maxBodyBytes);
  return Response.json(await grantTokens(request.headers, form, ctx), { headers: NO_STORE });
}

/**
 * The token endpoint for a request whose headers the caller exposes and whose body it reads
 * on demand (`undefined` when larger than `maxBodyBytes`): never throws, errors are rendered.
 */
export async function serveToken(
  headers: HeaderSource,
  readBody: () => Promise<Uint8Array | undefined>,
  ctx: GatewayContext,
  info: RequestInfo,
  extraHeaders: Record<string, string>,
): Promise<PlainResponse> {
  try {
    enforceRateLimit(ctx, 'token', [`ip:${clientIp({ headers }, info, ctx.config.trustProxy)}`]);
    const contentType = headers.get('content-type');
    const body = await readBody();
    if (body === undefined) {
      throw new OAuthError(
        'invalid_request',
        `request body is larger than ${ctx.config.maxBodyBytes} bytes`,
        { status: 413 },
      );
    }
    const tokens = await grantTokens(headers, parseForm(contentType, body), ctx);
    return plainJson(200, tokens, extraHeaders);
  } catch (err) {
    return plainJsonError(err, extraHeaders, ctx.logger);
  }
}

/** Everything after the body is read: client authentication, then the grant. */
async function grantTokens(
  headers: HeaderSource,
  form: Map<string, string>,
  ctx: GatewayContext,
): Promise<TokenSet> {
  const client = await authenticateClient({ headers }, form, ctx.clients);
  enforceRateLimit(ctx, 'token', [`client:${client.clientId}`]);
  const grantType = form.get('grant_type');
  if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
    throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
  }
  if (!client.grantTypes.includes(grantType)) {
    throw new OAuthError('unauthorized_client', `this client may not use ${grantType}`);
  }
  const resource = form.get('resource');
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (!code) throw new OAuthError('invalid_request', 'code is required');
    return ctx.codes.redeem(
      code,
      {
        clientId: client.clientId,
        redirectUri: form.get('redirect_uri'),
        codeVerifier: form.get('code_verifier'),
        resource,
      },
      async (data) => {
        const { grant, tokens } = await ctx.grants.issue({
          clientId: data.clientId,
          userId: data.userId,
          scopes: data.scopes,
          resource: data.resource,
          claims: data.claims,
          loginId: data.loginId,
          withRefreshToken: client.grantTypes.includes('refresh_token'),
        });
        return { grantId: grant.id, result: tokens };
      },
      async (grantId) => {
        await ctx.grants.revoke(grantId);
        ctx.logger.warn({ clientId: client.clientId, grantId }, 'authorization code replayed: grant revoked');
      },
    );
  }
  const refreshToken = form.get('refresh_token');
  if (!refreshToken) throw new OAuthError('invalid_request', 'refresh_token is required');
  const scope = form.get('scope');
  return ctx.grants.refresh(refreshToken, {
    clientId: client.clientId,
    scopes: scope === undefined ? undefined : [...new Set(scope.split(' ').filter(Boolean))],
    resource,
  });
}
