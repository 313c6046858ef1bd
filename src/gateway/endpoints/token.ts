/**
 * The token endpoint (OAuth 2.1 §3.2): authorization_code (§4.1.3) and refresh_token (§4.3).
 * Clients authenticate with their registered method; responses are never cached (§3.2.3).
 */
import { OAuthError } from '../../oauth/errors.js';
import { authenticateClient } from '../clients/authenticate.js';
import { clientIp, enforceRateLimit, type GatewayContext, type RequestInfo } from '../context.js';
import { NO_STORE } from '../errors.js';
import { readForm } from '../http/body.js';
import type { TokenSet } from '../tokens/grants.js';

export async function handleToken(
  request: Request,
  ctx: GatewayContext,
  info: RequestInfo,
): Promise<Response> {
  enforceRateLimit(ctx, 'token', [`ip:${clientIp(request, info, ctx.config.trustProxy)}`]);
  const form = await readForm(request, ctx.config.maxBodyBytes);
  const client = await authenticateClient(request, form, ctx.clients);
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
  let tokens: TokenSet;
  if (grantType === 'authorization_code') {
    const code = form.get('code');
    if (!code) throw new OAuthError('invalid_request', 'code is required');
    tokens = await ctx.codes.redeem(
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
  } else {
    const refreshToken = form.get('refresh_token');
    if (!refreshToken) throw new OAuthError('invalid_request', 'refresh_token is required');
    const scope = form.get('scope');
    tokens = await ctx.grants.refresh(refreshToken, {
      clientId: client.clientId,
      scopes: scope === undefined ? undefined : [...new Set(scope.split(' ').filter(Boolean))],
      resource,
    });
  }
  return Response.json(tokens, { headers: NO_STORE });
}
