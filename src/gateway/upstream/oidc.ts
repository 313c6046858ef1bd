/**
 * Any OpenID Connect IdP by issuer URL, on oauth4webapi (no hand-written protocol code):
 * discovery (OIDC Discovery §4, issuer checked), authorization code + S256 PKCE + nonce,
 * RFC 9207 `iss` validation when the IdP advertises it, ID token validation, and refresh.
 */
import * as oauth from 'oauth4webapi';
import type { Logger } from '../../logger.js';
import { OAuthError } from '../../oauth/errors.js';
import { isLoopbackHost } from '../../oauth/url-rules.js';
import type { OidcUpstreamConfig } from '../config.js';
import { UpstreamDeniedError, type UpstreamIdentityProvider, type UpstreamTokens } from './types.js';

/** ID token claims that describe the token itself rather than the user. */
const PROTOCOL_CLAIMS = new Set([
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'at_hash',
  'c_hash',
  'azp',
  'sid',
  'jti',
  'auth_time',
  'acr',
  'amr',
]);

export interface OidcUpstreamOptions {
  callbackUrl: string;
  clock: () => number;
  fetch?: typeof fetch | undefined;
  logger: Logger;
}

export function createOidcUpstream(
  config: OidcUpstreamConfig,
  o: OidcUpstreamOptions,
): UpstreamIdentityProvider {
  const issuer = new URL(config.issuer);
  // Plain http only for an IdP on loopback (tests, local Keycloak); OAuth 2.1 §1.5 otherwise.
  const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
  const client: oauth.Client = { client_id: config.clientId };
  const auth = clientAuth(config);
  let discovered: Promise<oauth.AuthorizationServer> | undefined;

  function requestOptions(): oauth.DiscoveryRequestOptions & oauth.TokenEndpointRequestOptions {
    const options: oauth.DiscoveryRequestOptions & oauth.TokenEndpointRequestOptions = {
      signal: AbortSignal.timeout(10_000),
    };
    if (insecure) options[oauth.allowInsecureRequests] = true;
    const f = o.fetch;
    // oauth4webapi's options object is a RequestInit (method, headers, body, redirect, signal).
    if (f) options[oauth.customFetch] = ((url: string, init: object) => f(url, init as RequestInit)) as never;
    return options;
  }

  /** oauth4webapi checks iat/exp against its own clock; align it with the injected one. */
  function clientNow(): oauth.Client {
    return { ...client, [oauth.clockSkew]: Math.round((o.clock() - Date.now()) / 1000) };
  }

  async function metadata(): Promise<oauth.AuthorizationServer> {
    discovered ??= (async () => {
      const response = await oauth.discoveryRequest(issuer, { ...requestOptions(), algorithm: 'oidc' });
      return oauth.processDiscoveryResponse(issuer, response);
    })();
    try {
      return await discovered;
    } catch (cause) {
      discovered = undefined; // never cache a failure
      throw upstreamError('discovery failed', cause);
    }
  }

  function toTokens(response: oauth.TokenEndpointResponse, previous?: UpstreamTokens): UpstreamTokens {
    const refreshToken = response.refresh_token ?? previous?.refreshToken;
    return {
      accessToken: response.access_token,
      ...(refreshToken ? { refreshToken } : {}),
      ...(response.expires_in !== undefined ? { expiresAt: o.clock() + response.expires_in * 1000 } : {}),
      ...(response.scope ? { scope: response.scope } : {}),
    };
  }

  return {
    displayName: issuer.host,

    async authorizationUrl(state, codeVerifier, nonce) {
      const as = await metadata();
      if (!as.authorization_endpoint) throw upstreamError('IdP has no authorization_endpoint');
      const url = new URL(as.authorization_endpoint);
      url.searchParams.set('client_id', config.clientId);
      url.searchParams.set('redirect_uri', o.callbackUrl);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', config.scopes.join(' '));
      url.searchParams.set('state', state);
      url.searchParams.set('nonce', nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      if (config.scopes.includes('offline_access')) url.searchParams.set('prompt', 'consent');
      return url;
    },

    async complete(callback, expected) {
      const as = await metadata();
      let params: URLSearchParams;
      try {
        params = oauth.validateAuthResponse(as, client, callback, expected.state); // state, RFC 9207 iss
      } catch (cause) {
        if (cause instanceof oauth.AuthorizationResponseError) {
          if (cause.error === 'access_denied')
            throw new UpstreamDeniedError(cause.error_description ?? 'denied at the IdP');
          throw upstreamError(`IdP answered ${cause.error}`, cause);
        }
        throw upstreamError('invalid callback from the IdP', cause);
      }
      try {
        const c = clientNow();
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          c,
          auth,
          params,
          o.callbackUrl,
          expected.codeVerifier,
          requestOptions(),
        );
        const result = await oauth.processAuthorizationCodeResponse(as, c, response, {
          expectedNonce: expected.nonce,
          requireIdToken: true,
        });
        const claims = oauth.getValidatedIdTokenClaims(result);
        const subject = claims?.[config.subjectClaim];
        if (!claims || (typeof subject !== 'string' && typeof subject !== 'number')) {
          throw upstreamError(`ID token has no ${config.subjectClaim} claim`);
        }
        const profile = Object.fromEntries(Object.entries(claims).filter(([k]) => !PROTOCOL_CLAIMS.has(k)));
        return { subject: String(subject), claims: profile, tokens: toTokens(result) };
      } catch (cause) {
        if (cause instanceof OAuthError) throw cause;
        throw upstreamError('code exchange with the IdP failed', cause);
      }
    },

    async refresh(tokens) {
      if (!tokens.refreshToken) throw new OAuthError('invalid_grant', 'no upstream refresh token');
      const as = await metadata();
      try {
        const c = clientNow();
        const response = await oauth.refreshTokenGrantRequest(
          as,
          c,
          auth,
          tokens.refreshToken,
          requestOptions(),
        );
        return toTokens(await oauth.processRefreshTokenResponse(as, c, response), tokens);
      } catch (cause) {
        if (cause instanceof oauth.ResponseBodyError && cause.error === 'invalid_grant') {
          throw new OAuthError('invalid_grant', 'the IdP refused the refresh token', { cause });
        }
        throw upstreamError('refresh at the IdP failed', cause);
      }
    },
  };
}

function clientAuth(config: OidcUpstreamConfig): oauth.ClientAuth {
  const method = config.tokenEndpointAuthMethod ?? (config.clientSecret ? 'client_secret_basic' : 'none');
  if (method === 'none') return oauth.None();
  if (!config.clientSecret) throw new Error(`upstream.clientSecret is required for ${method}`);
  return method === 'client_secret_post'
    ? oauth.ClientSecretPost(config.clientSecret)
    : oauth.ClientSecretBasic(config.clientSecret);
}

function upstreamError(what: string, cause?: unknown): OAuthError {
  return new OAuthError('temporarily_unavailable', `upstream identity provider: ${what}`, {
    status: 502,
    cause,
  });
}
