/**
 * Token endpoint grants and revocation, one function per protocol step, on oauth4webapi:
 * authorization_code (RFC 6749 §4.1 + PKCE + RFC 9207 `iss`), refresh_token (§6),
 * client_credentials (§4.4), RFC 7523 jwt-bearer and RFC 8693 token exchange, RFC 7009 revocation.
 * Every token request carries `resource` (RFC 8707, C21) unless the server opted out.
 */
import { createPrivateKey } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import { withDpopNonceRetry } from './dpop.js';
import { ClientError } from './errors.js';
import { type RequestContext, requestOptions } from './oauth4webapi-options.js';
import type { ClientRecord, TokenRecord } from './state.js';

export interface GrantContext extends RequestContext {
  clock: () => number;
  /** PKCS#8 PEM for private_key_jwt clients. */
  privateKeyPem?: string;
  /** JWS alg for private_key_jwt (default from the key: ES256 / RS256 / EdDSA). */
  signingAlgorithm?: string;
  dpop?: oauth.DPoPHandle;
}

const asServer = (as: AuthorizationServerMetadata) => as as unknown as oauth.AuthorizationServer;
const asClient = (client: ClientRecord): oauth.Client => ({ client_id: client.clientId });

export async function clientAuthentication(
  client: ClientRecord,
  ctx: GrantContext,
): Promise<oauth.ClientAuth> {
  switch (client.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      return clientSecretBasic(client.clientId, requireSecret(client));
    case 'client_secret_post':
      return oauth.ClientSecretPost(requireSecret(client));
    case 'private_key_jwt':
      return oauth.PrivateKeyJwt(await importPrivateKey(ctx));
    case 'none':
      return oauth.None();
    default:
      throw new ClientError(
        'registration_failed',
        `unsupported token_endpoint_auth_method ${client.tokenEndpointAuthMethod} for client ${client.clientId}`,
      );
  }
}

/**
 * RFC 6749 §2.3.1 client_secret_basic. oauth4webapi form-encodes every non-alphanumeric character
 * (`-` becomes `%2D`), which servers that skip the decoding step reject; `encodeURIComponent`
 * leaves the unreserved set alone, is equally valid, and is what deployed clients send.
 */
function clientSecretBasic(clientId: string, clientSecret: string): oauth.ClientAuth {
  const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  const credentials = Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64');
  return (_as, _client, _body, headers) => {
    headers.set('authorization', `Basic ${credentials}`);
  };
}

function requireSecret(client: ClientRecord): string {
  if (!client.clientSecret) {
    throw new ClientError(
      'registration_failed',
      `client ${client.clientId} uses ${client.tokenEndpointAuthMethod} but has no secret`,
    );
  }
  return client.clientSecret;
}

async function importPrivateKey(ctx: GrantContext): Promise<oauth.PrivateKey> {
  if (!ctx.privateKeyPem) {
    throw new ClientError('registration_failed', 'private_key_jwt needs a private key (PKCS#8 PEM)');
  }
  const keyObject = createPrivateKey(ctx.privateKeyPem);
  const jwk = keyObject.export({ format: 'jwk' });
  let algorithm: EcKeyImportParams | RsaHashedImportParams | { name: 'Ed25519' };
  if (jwk.kty === 'EC') algorithm = { name: 'ECDSA', namedCurve: jwk.crv ?? 'P-256' };
  else if (jwk.kty === 'OKP') algorithm = { name: 'Ed25519' };
  else
    algorithm = {
      name: ctx.signingAlgorithm?.startsWith('PS') ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
    };
  const key = await crypto.subtle.importKey('jwk', jwk as JsonWebKey, algorithm, false, ['sign']);
  return { key };
}

function toTokenRecord(
  issuer: string,
  response: oauth.TokenEndpointResponse,
  now: number,
  previous?: TokenRecord,
): TokenRecord {
  return {
    issuer,
    accessToken: response.access_token,
    tokenType: response.token_type,
    // OAuth 2.1 §4.3.2 (C37): a new refresh token replaces the old; none returned keeps the old.
    ...((response.refresh_token ?? previous?.refreshToken)
      ? { refreshToken: response.refresh_token ?? previous?.refreshToken }
      : {}),
    ...((response.scope ?? previous?.scope) ? { scope: response.scope ?? previous?.scope } : {}),
    issuedAt: now,
    ...(typeof response.expires_in === 'number' ? { expiresAt: now + response.expires_in * 1000 } : {}),
  } as TokenRecord;
}

/** Turns oauth4webapi's errors into ours: an AS error keeps its `error` code; the rest is a failed request. */
function translate(err: unknown, what: string, issuer: string): never {
  if (err instanceof ClientError || err instanceof OAuthError) throw err;
  if (err instanceof oauth.ResponseBodyError) {
    throw new OAuthError(err.error, err.error_description ?? `${what} refused by ${issuer}`, {
      status: err.status,
      cause: err,
    });
  }
  if (err instanceof oauth.AuthorizationResponseError) {
    throw new OAuthError(err.error, err.error_description ?? `authorization refused by ${issuer}`, {
      cause: err,
    });
  }
  const detail = err instanceof Error ? err.message : String(err);
  throw new ClientError('token_request_failed', `${what} at ${issuer} failed: ${detail}`, { cause: err });
}

function tokenEndpoint(as: AuthorizationServerMetadata): string {
  if (!as.token_endpoint)
    throw new ClientError('discovery_failed', `${as.issuer} advertises no token_endpoint`);
  return as.token_endpoint;
}

function extraParams(params: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface AuthorizationCodeInput {
  callbackUrl: URL;
  state: string;
  codeVerifier: string;
  redirectUri: string;
  resource?: string;
}

/**
 * Validates the authorization response (state, and RFC 9207 `iss` per C29–C31: compared as a plain
 * string, required when the AS advertises it; an error with a wrong `iss` is not trusted) and
 * redeems the code.
 */
export async function redeemAuthorizationCode(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  input: AuthorizationCodeInput,
  ctx: GrantContext,
): Promise<TokenRecord> {
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(asServer(as), asClient(client), input.callbackUrl, input.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      const desc = err.error_description ? `: ${err.error_description}` : '';
      throw new ClientError('authorization_failed', `${as.issuer} returned ${err.error}${desc}`, {
        cause: err,
      });
    }
    const missingIss =
      !input.callbackUrl.searchParams.has('iss') && as.authorization_response_iss_parameter_supported;
    const detail = missingIss
      ? `${as.issuer} names itself in every redirect (RFC 9207 iss), and this one has no iss; if you pasted only the code, paste the whole redirect URL`
      : err instanceof Error
        ? err.message
        : String(err);
    throw new ClientError('authorization_failed', `the authorization response was rejected: ${detail}`, {
      cause: err,
    });
  }
  try {
    const result = await withDpopNonceRetry(async () => {
      const response = await oauth.authorizationCodeGrantRequest(
        asServer(as),
        asClient(client),
        await clientAuthentication(client, ctx),
        params,
        input.redirectUri,
        input.codeVerifier,
        {
          ...requestOptions(tokenEndpoint(as), ctx),
          additionalParameters: extraParams({ resource: input.resource }),
          ...(ctx.dpop ? { DPoP: ctx.dpop } : {}),
        },
      );
      return oauth.processAuthorizationCodeResponse(asServer(as), asClient(client), response);
    });
    return toTokenRecord(as.issuer, result, ctx.clock());
  } catch (err) {
    translate(err, 'the authorization code exchange', as.issuer);
  }
}

export async function refreshAccessToken(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  current: TokenRecord,
  params: { resource?: string; scope?: string },
  ctx: GrantContext,
): Promise<TokenRecord> {
  const refreshToken = current.refreshToken;
  if (!refreshToken) throw new ClientError('reauth_required', 'no refresh token is stored; log in again');
  try {
    const result = await withDpopNonceRetry(async () => {
      const response = await oauth.refreshTokenGrantRequest(
        asServer(as),
        asClient(client),
        await clientAuthentication(client, ctx),
        refreshToken,
        {
          ...requestOptions(tokenEndpoint(as), ctx),
          additionalParameters: extraParams(params),
          ...(ctx.dpop ? { DPoP: ctx.dpop } : {}),
        },
      );
      return oauth.processRefreshTokenResponse(asServer(as), asClient(client), response);
    });
    return toTokenRecord(as.issuer, result, ctx.clock(), current);
  } catch (err) {
    translate(err, 'the token refresh', as.issuer);
  }
}

export async function requestClientCredentials(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  params: { resource?: string; scope?: string },
  ctx: GrantContext,
): Promise<TokenRecord> {
  try {
    const result = await withDpopNonceRetry(async () => {
      const response = await oauth.clientCredentialsGrantRequest(
        asServer(as),
        asClient(client),
        await clientAuthentication(client, ctx),
        extraParams(params),
        { ...requestOptions(tokenEndpoint(as), ctx), ...(ctx.dpop ? { DPoP: ctx.dpop } : {}) },
      );
      return oauth.processClientCredentialsResponse(asServer(as), asClient(client), response);
    });
    return toTokenRecord(as.issuer, result, ctx.clock());
  } catch (err) {
    translate(err, 'the client_credentials grant', as.issuer);
  }
}

/** Any other grant (RFC 7523 jwt-bearer, RFC 8693 token-exchange) at an AS or IdP token endpoint. */
export async function requestGenericGrant(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  grantType: string,
  params: Record<string, string | undefined>,
  ctx: GrantContext,
): Promise<oauth.TokenEndpointResponse> {
  try {
    return await withDpopNonceRetry(async () => {
      const response = await oauth.genericTokenEndpointRequest(
        asServer(as),
        asClient(client),
        await clientAuthentication(client, ctx),
        grantType,
        extraParams(params),
        { ...requestOptions(tokenEndpoint(as), ctx), ...(ctx.dpop ? { DPoP: ctx.dpop } : {}) },
      );
      return oauth.processGenericTokenEndpointResponse(asServer(as), asClient(client), response);
    });
  } catch (err) {
    translate(err, `the ${grantType} grant`, as.issuer);
  }
}

/**
 * RFC 8693 token exchange. Its response may carry `token_type: N_A` (§2.2.1: the issued token is
 * not an access token), which oauth4webapi's token response processing refuses, so the body is
 * checked here: HTTP 200, an `access_token` string, and the `issued_token_type` asked for.
 */
export async function exchangeToken(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  params: Record<string, string | undefined>,
  ctx: GrantContext,
): Promise<string> {
  let response: Response;
  try {
    response = await oauth.genericTokenEndpointRequest(
      asServer(as),
      asClient(client),
      await clientAuthentication(client, ctx),
      'urn:ietf:params:oauth:grant-type:token-exchange',
      extraParams(params),
      requestOptions(tokenEndpoint(as), ctx),
    );
  } catch (err) {
    translate(err, 'the token exchange', as.issuer);
  }
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (response.status !== 200 || typeof body?.['access_token'] !== 'string') {
    const error = typeof body?.['error'] === 'string' ? body['error'] : 'invalid_response';
    const description =
      typeof body?.['error_description'] === 'string' ? body['error_description'] : undefined;
    throw new OAuthError(
      error,
      description ?? `the token exchange at ${as.issuer} failed (HTTP ${response.status})`,
      {
        status: response.status,
      },
    );
  }
  const wanted = params['requested_token_type'];
  if (wanted && body['issued_token_type'] !== undefined && body['issued_token_type'] !== wanted) {
    throw new ClientError(
      'token_request_failed',
      `${as.issuer} issued a ${String(body['issued_token_type'])}, not a ${wanted}`,
    );
  }
  return body['access_token'];
}

export function tokenRecordFrom(
  issuer: string,
  response: oauth.TokenEndpointResponse,
  now: number,
): TokenRecord {
  return toTokenRecord(issuer, response, now);
}

/** RFC 7009: revoke one token; the AS answers 200 even for unknown tokens. */
export async function revokeToken(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  token: string,
  hint: 'access_token' | 'refresh_token',
  ctx: GrantContext,
): Promise<void> {
  if (!as.revocation_endpoint) return;
  try {
    const response = await oauth.revocationRequest(
      asServer(as),
      asClient(client),
      await clientAuthentication(client, ctx),
      token,
      {
        ...requestOptions(as.revocation_endpoint, ctx),
        additionalParameters: { token_type_hint: hint },
      },
    );
    await oauth.processRevocationResponse(response);
  } catch (err) {
    translate(err, 'token revocation', as.issuer);
  }
}
