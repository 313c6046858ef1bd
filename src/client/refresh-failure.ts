/**
 * What a failed refresh leaves in the Store (RFC 6749 §5.2 errors): a dead grant loses its tokens,
 * a client the AS forgot also its DCR registration, and any other failure is noted on the tokens.
 */
import { OAuthError } from '../oauth/errors.js';
import type { Store } from '../store/store.js';
import { ClientError } from './errors.js';
import { type ClientRecord, clientKey, NS, type TokenRecord } from './state.js';

/** The error code of a failed refresh: the AS's OAuth error, a ClientError's code, else `network_error`. */
export function refreshErrorCode(err: unknown): string {
  return err instanceof OAuthError ? err.error : err instanceof ClientError ? err.code : 'network_error';
}

export interface FailedRefresh {
  serverUrl: string;
  /** The refresh's error code (`refreshErrorCode`). */
  error: string;
  /** The Store key of the tokens whose refresh failed, and those tokens. */
  key: string;
  tokens: TokenRecord;
  client: ClientRecord;
}

export async function storeRefreshFailure(
  store: Store,
  clock: () => number,
  failed: FailedRefresh,
): Promise<void> {
  const { serverUrl, error, key, tokens, client } = failed;
  if (error === 'invalid_grant') {
    // The grant is gone (revoked, expired, or rotated elsewhere): drop tokens, keep the registration.
    await store.delete(NS.tokens, key);
  } else if (error === 'invalid_client' || error === 'unauthorized_client') {
    // The AS forgot this client: drop it too, so the next login registers again.
    await store.delete(NS.tokens, key);
    if (client.source === 'dcr') await store.delete(NS.clients, clientKey(serverUrl, client.issuer));
  } else {
    await store.set(NS.tokens, key, { ...tokens, refreshError: { error, at: clock() } });
  }
}
