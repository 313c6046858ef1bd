/**
 * The grants that need no person: client_credentials (RFC 6749 §4.4), RFC 7523 jwt-bearer with an
 * assertion the host supplies (workload identity federation), and enterprise-managed authorization
 * (ID-JAG: an RFC 8693 exchange of the user's ID token at their IdP, then jwt-bearer at the AS).
 * Used by the Authorizer and by the SDK adapter's `prepareTokenRequest`.
 */
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import {
  exchangeToken,
  type GrantContext,
  requestClientCredentials,
  requestGenericGrant,
  tokenRecordFrom,
} from './grants.js';
import type { ClientRecord, TokenRecord } from './state.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export type NonInteractiveGrant =
  | { type: 'client_credentials' }
  /** RFC 7523 jwt-bearer with an assertion the host supplies (e.g. workload identity federation). */
  | { type: 'jwt-bearer'; assertion: string | (() => Promise<string>) }
  /** Enterprise-managed authorization: RFC 8693 exchange at the IdP, then RFC 7523 at the AS. */
  | {
      type: 'id-jag';
      idToken: string;
      idpTokenEndpoint: string;
      idpClientId: string;
      idpClientSecret?: string;
    };

type AssertionGrant = Exclude<NonInteractiveGrant, { type: 'client_credentials' }>;

/**
 * The assertion to present with `grant_type=jwt-bearer`: the host's own, or an ID-JAG obtained
 * from the IdP for this AS (`audience`) and resource.
 */
export async function assertionFor(
  grant: AssertionGrant,
  target: { audience: string; resource?: string | undefined; scope?: string | undefined },
  ctx: Omit<GrantContext, 'dpop'>,
): Promise<string> {
  if (grant.type === 'jwt-bearer') {
    return typeof grant.assertion === 'string' ? grant.assertion : grant.assertion();
  }
  const idpIssuer = new URL(grant.idpTokenEndpoint).origin;
  const idpClient: ClientRecord = {
    issuer: idpIssuer,
    clientId: grant.idpClientId,
    ...(grant.idpClientSecret ? { clientSecret: grant.idpClientSecret } : {}),
    tokenEndpointAuthMethod: grant.idpClientSecret ? 'client_secret_basic' : 'none',
    redirectUris: [],
    source: 'pre-registered',
    registeredAt: ctx.clock(),
  };
  return exchangeToken(
    { issuer: idpIssuer, token_endpoint: grant.idpTokenEndpoint },
    idpClient,
    {
      subject_token: grant.idToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      audience: target.audience,
      resource: target.resource,
      scope: target.scope,
    },
    ctx,
  );
}

/** Tokens from the AS by a grant that needs no person. */
export async function requestNonInteractiveTokens(
  grant: NonInteractiveGrant,
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  params: { resource?: string; scope?: string },
  ctx: GrantContext,
): Promise<TokenRecord> {
  if (grant.type === 'client_credentials') return requestClientCredentials(as, client, params, ctx);
  const { dpop: _dpop, ...plain } = ctx;
  const assertion = await assertionFor(grant, { audience: as.issuer, ...params }, plain);
  const response = await requestGenericGrant(as, client, JWT_BEARER, { assertion, ...params }, ctx);
  return tokenRecordFrom(as.issuer, response, ctx.clock());
}
