/**
 * RFC 7009 token revocation. Unknown and foreign tokens get the same 200 as revoked ones
 * (§2.2), and only the caller's own tokens are touched (§2.1). Revoking a refresh token revokes
 * the whole grant, its access tokens included (§2.1 SHOULD).
 */
import { OAuthError } from '../../oauth/errors.js';
import { authenticateClient } from '../clients/authenticate.js';
import type { GatewayContext } from '../context.js';
import { NO_STORE } from '../errors.js';
import { readForm } from '../http/body.js';

export async function handleRevoke(request: Request, ctx: GatewayContext): Promise<Response> {
  const form = await readForm(request, ctx.config.maxBodyBytes);
  const client = await authenticateClient(request, form, ctx.clients);
  const token = form.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const found = await ctx.grants.lookup(token);
  if (found && found.grant.clientId === client.clientId) {
    if (found.kind === 'refresh_token') await ctx.grants.revoke(found.grant.id);
    else await ctx.grants.revokeAccessToken(found.grant.id, token);
    ctx.logger.info({ clientId: client.clientId, kind: found.kind }, 'token revoked');
  }
  return new Response(null, { status: 200, headers: NO_STORE });
}
