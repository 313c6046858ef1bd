/**
 * The non-interactive grants of the SDK adapter, as token request parameters for the SDK's
 * `prepareTokenRequest` hook: client_credentials, RFC 7523 jwt-bearer, and enterprise-managed
 * authorization (RFC 8693 exchange of an ID token for an ID-JAG at the IdP, then jwt-bearer).
 */
import { exchangeToken } from '../client/grants.js';

export type SdkGrant =
  | { type: 'client_credentials' }
  | { type: 'jwt-bearer'; assertion: string | (() => Promise<string>) }
  | {
      type: 'id-jag';
      idToken: string;
      idpTokenEndpoint: string;
      idpClientId: string;
      idpClientSecret?: string;
    };

export async function nonInteractiveGrant(
  grant: SdkGrant,
  ctx: {
    scope: string | undefined;
    issuer: string;
    resource: string;
    fetch: typeof fetch;
    clock: () => number;
  },
): Promise<URLSearchParams> {
  const params = new URLSearchParams();
  if (grant.type === 'client_credentials') {
    params.set('grant_type', 'client_credentials');
  } else {
    params.set('grant_type', 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    if (grant.type === 'jwt-bearer') {
      params.set(
        'assertion',
        typeof grant.assertion === 'string' ? grant.assertion : await grant.assertion(),
      );
    } else {
      const idpIssuer = new URL(grant.idpTokenEndpoint).origin;
      params.set(
        'assertion',
        await exchangeToken(
          { issuer: idpIssuer, token_endpoint: grant.idpTokenEndpoint },
          {
            issuer: idpIssuer,
            clientId: grant.idpClientId,
            ...(grant.idpClientSecret ? { clientSecret: grant.idpClientSecret } : {}),
            tokenEndpointAuthMethod: grant.idpClientSecret ? 'client_secret_basic' : 'none',
            redirectUris: [],
            source: 'pre-registered',
            registeredAt: 0,
          },
          {
            subject_token: grant.idToken,
            subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
            requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
            audience: ctx.issuer,
            resource: ctx.resource,
            scope: ctx.scope,
          },
          { fetch: ctx.fetch, allowHttp: false, clock: ctx.clock },
        ),
      );
    }
  }
  if (ctx.scope) params.set('scope', ctx.scope);
  return params;
}
