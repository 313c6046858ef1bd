/**
 * Removing a server: RFC 7009 revocation of its refresh token, then its access token (§2.1:
 * revoking the refresh token may end the grant's access tokens too), when the AS has a
 * `revocation_endpoint`; then every local record of the server is deleted. A revocation that
 * fails is reported in the result and never blocks the deletion: whoever asked wants this
 * machine to stop holding the credentials.
 */
import { type Logger, silentLogger } from '../logger.js';
import { OAuthError } from '../oauth/errors.js';
import { canonicalResourceUrl } from '../oauth/url-rules.js';
import type { Store } from '../store/store.js';
import { ClientError } from './errors.js';
import { revokeToken } from './grants.js';
import { forgetServer, readServerState } from './state.js';

export type RevocableToken = 'refresh_token' | 'access_token';

export interface RevocationResult {
  /**
   * - `revoked`: every stored token was revoked (or the AS said it cannot revoke that kind);
   * - `partial`: some were, some failed; `failed`: none could be;
   * - `unsupported`: the AS has no `revocation_endpoint`, so its tokens stay valid until they expire;
   * - `no_tokens`: nothing was stored to revoke.
   */
  status: 'revoked' | 'partial' | 'failed' | 'unsupported' | 'no_tokens';
  issuer?: string;
  revoked: RevocableToken[];
  /**
   * RFC 7009 §2.2.1 `unsupported_token_type`: the AS cannot revoke this kind of token (e.g. a
   * self-contained JWT access token); it stays valid until it expires.
   */
  notRevocable: RevocableToken[];
  failures: Array<{ token: RevocableToken; code: string; message: string }>;
}

export interface RevokeOptions {
  fetch?: typeof fetch;
  /** Permit cleartext http to a non-loopback AS (never the default). */
  allowHttp?: boolean;
  /** PKCS#8 PEM of the client's key, for a `private_key_jwt` client. */
  privateKeyPem?: string;
  clock?: () => number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** Where the client core keeps a server's DPoP key pair (src/client/dpop.ts). */
const NS_DPOP = 'dpop';

/** RFC 7009 revocation of what is stored for `serverUrl`; changes nothing stored. */
export async function revokeServerTokens(
  store: Store,
  serverUrl: string,
  options: RevokeOptions = {},
): Promise<RevocationResult> {
  const url = canonicalResourceUrl(serverUrl);
  const { server, client, tokens } = await readServerState(store, url);
  const as = server?.authorizationServer;
  const result: RevocationResult = { status: 'no_tokens', revoked: [], notRevocable: [], failures: [] };
  if (!tokens || !client || !as) return result;
  result.issuer = as.issuer;
  if (!as.revocation_endpoint) {
    result.status = 'unsupported';
    return result;
  }
  const ctx = {
    fetch: options.fetch ?? globalThis.fetch,
    allowHttp: options.allowHttp ?? false,
    clock: options.clock ?? Date.now,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.privateKeyPem ? { privateKeyPem: options.privateKeyPem } : {}),
  };
  const logger = options.logger ?? silentLogger;
  for (const [token, hint] of [
    [tokens.refreshToken, 'refresh_token'],
    [tokens.accessToken, 'access_token'],
  ] as const) {
    if (!token) continue;
    try {
      await revokeToken(as, client, token, hint, ctx);
      result.revoked.push(hint);
    } catch (err) {
      const code = err instanceof OAuthError ? err.error : err instanceof ClientError ? err.code : 'error';
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'unsupported_token_type') {
        result.notRevocable.push(hint);
      } else {
        result.failures.push({ token: hint, code, message });
        logger.warn({ issuer: as.issuer, token: hint, code }, 'token revocation failed');
      }
    }
  }
  if (result.failures.length === 0) result.status = 'revoked';
  else result.status = result.revoked.length > 0 ? 'partial' : 'failed';
  return result;
}

/**
 * Revokes (best effort, see `revokeServerTokens`), then deletes the server's discovery record,
 * registration, tokens and DPoP key. Rejects only when the Store itself fails.
 */
export async function removeServerState(
  store: Store,
  serverUrl: string,
  options: RevokeOptions = {},
): Promise<RevocationResult> {
  const url = canonicalResourceUrl(serverUrl);
  let result: RevocationResult;
  try {
    result = await revokeServerTokens(store, url, options);
  } catch (err) {
    // A failure before any request (e.g. a stored record that no longer parses) is reported too.
    const message = err instanceof Error ? err.message : String(err);
    result = {
      status: 'failed',
      revoked: [],
      notRevocable: [],
      failures: [{ token: 'refresh_token', code: 'error', message }],
    };
  }
  await forgetServer(store, url);
  await store.delete(NS_DPOP, url);
  return result;
}
