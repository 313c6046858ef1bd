/**
 * Client-side errors carry a stable `code` a host can switch on, a message that says what
 * happened and what to do next, and the underlying error in `cause`. They never carry a secret.
 */
export type ClientErrorCode =
  | 'reauth_required' // stored credentials no longer work; a person must log in again
  | 'discovery_failed' // PRM or AS metadata missing, malformed or inconsistent
  | 'insecure_url' // a URL that must be https (or loopback http) is not
  | 'unsupported_authorization_server' // e.g. no S256 PKCE
  | 'registration_failed' // no usable client registration could be obtained
  | 'authorization_failed' // the AS refused or the callback was invalid (state, iss, error=…)
  | 'authorization_required' // a login is needed but no way to ask a person was given
  | 'callback_timeout'
  | 'callback_port_in_use'
  | 'token_request_failed'
  | 'aborted'
  // Host apps (connection manager, web login flow):
  | 'unknown_server' // no server registered under this (userId, serverId)
  | 'server_exists' // that serverId is already registered with another URL
  | 'invalid_callback' // a login callback without `state` or `code`, or not a URL
  | 'state_unknown' // no pending login has this `state` (forged, or long expired)
  | 'state_expired' // the pending login is older than its TTL
  | 'state_replayed' // this login response was already used
  | 'state_foreign' // the login was started by another user
  | 'store_unavailable'; // the Store failed (cause: the StoreError); nothing was changed

export class ClientError extends Error {
  override readonly name = 'ClientError';
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isClientError(err: unknown, code?: ClientErrorCode): err is ClientError {
  return err instanceof ClientError && (code === undefined || err.code === code);
}
