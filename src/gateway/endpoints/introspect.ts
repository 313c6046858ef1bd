/**
 * RFC 7662 token introspection, for confidential clients only, about their own tokens: any other
 * token is simply `{"active": false}` (§2.2), which also hides whether it exists.
 */
import { OAuthError } from '../../oauth/errors.js';
import { authenticateClient } from '../clients/authenticate.js';
import { isConfidential } from '../clients/types.js';
import type { GatewayContext } from '../context.js';
import { NO_STORE } from '../errors.js';
import { readForm } from '../http/body.js';

export async function handleIntrospect(request: Request, ctx: GatewayContext): Promise<Response> {
  const form = await readForm(request, ctx.config.maxBodyBytes);
  const client = await authenticateClient(request, form, ctx.clients);
  if (!isConfidential(client)) {
    throw new OAuthError('invalid_client', 'introspection is for confidential clients', { status: 401 });
  }
  const token = form.get('token');
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  const found = await ctx.grants.lookup(token);
  const inactive = Response.json({ active: false }, { headers: NO_STORE });
  if (!found || found.grant.clientId !== client.clientId || found.active === false) return inactive;
  const { grant } = found;
  const common = {
    active: true,
    client_id: grant.clientId,
    sub: grant.userId,
    aud: grant.resource,
    iss: ctx.config.issuer,
  };
  if (found.kind === 'access_token' && typeof found.active === 'object') {
    return Response.json(
      {
        ...common,
        scope: found.active.scopes.join(' '),
        token_type: 'Bearer',
        exp: Math.floor(found.active.expiresAt / 1000),
      },
      { headers: NO_STORE },
    );
  }
  return Response.json(
    {
      ...common,
      scope: grant.scopes.join(' '),
      token_type: 'refresh_token',
      exp: Math.floor(grant.expiresAt / 1000),
    },
    { headers: NO_STORE },
  );
}
