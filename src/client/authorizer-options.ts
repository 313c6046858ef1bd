/**
 * What an Authorizer is made with and what its flows take and return; authorizer.ts re-exports
 * these, so callers import them from there.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { NonInteractiveGrant } from './assertion-grants.js';
import type { RegistrationOptions } from './registration.js';
import type { Interaction } from './types.js';

export type GrantOption = { type: 'authorization_code' } | NonInteractiveGrant;

export interface AuthorizerOptions {
  serverUrl: string;
  store: Store;
  interaction?: Interaction | undefined;
  registration?: RegistrationOptions | undefined;
  grant?: GrantOption | undefined;
  privateKeyPem?: string | undefined;
  signingAlgorithm?: string | undefined;
  scope?: string | undefined;
  /** DPoP-bound tokens (RFC 9449): 'auto' (default) uses them when the AS advertises DPoP. */
  dpop?: boolean | 'auto' | undefined;
  /** RFC 8707 `resource` on authorize and token requests (C21); false for IdPs that reject it. */
  resource?: boolean | string | undefined;
  refreshSkewSeconds?: number | undefined;
  allowHttp?: boolean | undefined;
  fetch: typeof fetch;
  clock: () => number;
  logger: Logger;
  events: EventTarget;
  /** How long a person has to finish logging in. Default 5 minutes. */
  authorizationTimeoutMs?: number | undefined;
}

export interface AuthorizeRequest {
  resourceMetadataUrl?: string | undefined;
  challengedScope?: string | undefined;
  stepUp?: boolean | undefined;
  /** The access token that was just refused; a newer one in the Store means another process won. */
  rejectedToken?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** An authorization request made by `prepareAuthorization`, to be finished by `completeAuthorization`. */
export interface PreparedAuthorization {
  url: URL;
  state: string;
  codeVerifier: string;
  redirectUri: string;
  /** The AS the request went to; the callback's `iss` (RFC 9207) must equal it. */
  issuer: string;
  /** The AS said it puts `iss` in every authorization response (RFC 9207 §3). */
  issRequired: boolean;
  clientId: string;
  scopes: string[];
  resource?: string;
}
