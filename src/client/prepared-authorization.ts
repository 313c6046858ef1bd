/**
 * The web flow's hand-off: the PreparedAuthorization that `prepareAuthorization` gives the host to
 * keep, and the checks and parameters `completeAuthorization` redeems its callback with.
 */
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import type { AuthorizationRequest } from './authorization-request.js';
import type { PreparedAuthorization } from './authorizer-options.js';
import { ClientError } from './errors.js';
import type { AuthorizationCodeInput } from './grants.js';
import type { ClientRecord, ServerRecord } from './state.js';

export function preparedAuthorization(
  as: AuthorizationServerMetadata,
  client: ClientRecord,
  request: AuthorizationRequest & { redirectUri: string },
  scopes: string[],
  resource: string | undefined,
): PreparedAuthorization {
  return {
    url: request.url,
    state: request.state,
    codeVerifier: request.codeVerifier,
    redirectUri: request.redirectUri,
    issuer: as.issuer,
    issRequired: as.authorization_response_iss_parameter_supported === true,
    clientId: client.clientId,
    scopes,
    ...(resource ? { resource } : {}),
  };
}

/** The callback is refused when the server's AS is no longer the one the login started at (C15). */
export function assertSameIssuer(
  serverUrl: string,
  pending: PreparedAuthorization,
  server: ServerRecord | undefined,
): asserts server is ServerRecord & { authorizationServer: AuthorizationServerMetadata } {
  if (!server?.authorizationServer || server.authorizationServer.issuer !== pending.issuer) {
    throw new ClientError(
      'authorization_failed',
      `the login for ${serverUrl} was started at ${pending.issuer}, which is no longer its authorization server; start the login again`,
    );
  }
}

/** ...and when the client registration the request was made with has been replaced. */
export function assertSameClient(
  serverUrl: string,
  pending: PreparedAuthorization,
  client: ClientRecord | undefined,
): asserts client is ClientRecord {
  if (client?.clientId !== pending.clientId) {
    throw new ClientError(
      'authorization_failed',
      `the client registration for ${serverUrl} changed since the login started; start the login again`,
    );
  }
}

/** What the callback's code is redeemed with (RFC 6749 §4.1.3, PKCE, RFC 8707 `resource`). */
export function codeRedemption(callbackUrl: URL, pending: PreparedAuthorization): AuthorizationCodeInput {
  return {
    callbackUrl,
    state: pending.state,
    codeVerifier: pending.codeVerifier,
    redirectUri: pending.redirectUri,
    ...(pending.resource ? { resource: pending.resource } : {}),
  };
}
