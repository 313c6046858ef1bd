/**
 * The authorization request (RFC 6749 §4.1.1 + RFC 7636 §4.3 + RFC 8707 §2): one place builds the
 * URL a person is sent to, for the loopback flow and the web begin/complete flow alike.
 */
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { codeChallengeS256, generateCodeVerifier, randomToken } from '../oauth/pkce.js';
import { assertBrowserUrl } from '../oauth/url-rules.js';
import { ClientError } from './errors.js';
import type { ClientRecord } from './state.js';

export interface AuthorizationRequest {
  url: URL;
  /** RFC 6749 §10.12: random, checked on the callback. */
  state: string;
  /** RFC 7636 §4.1: kept by the client, sent only to the token endpoint. */
  codeVerifier: string;
}

export function buildAuthorizationRequest(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  params: { redirectUri: string; scope?: string | undefined; resource?: string | undefined },
): AuthorizationRequest {
  if (!as.authorization_endpoint)
    throw new ClientError('discovery_failed', `${as.issuer} advertises no authorization_endpoint`);
  const state = randomToken();
  const codeVerifier = generateCodeVerifier();
  const url = assertBrowserUrlOr(as.authorization_endpoint);
  const query = url.searchParams;
  query.set('response_type', 'code');
  query.set('client_id', client.clientId);
  query.set('redirect_uri', params.redirectUri);
  query.set('code_challenge', codeChallengeS256(codeVerifier));
  query.set('code_challenge_method', 'S256');
  query.set('state', state);
  if (params.scope) query.set('scope', params.scope);
  if (params.resource) query.set('resource', params.resource);
  return { url, state, codeVerifier };
}

function assertBrowserUrlOr(endpoint: string): URL {
  try {
    return assertBrowserUrl(endpoint);
  } catch (cause) {
    const message =
      cause instanceof OAuthError && cause.description ? cause.description : 'invalid authorization URL';
    throw new ClientError('insecure_url', message, { cause });
  }
}
