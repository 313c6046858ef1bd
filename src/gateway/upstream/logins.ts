/**
 * Upstream logins: the IdP tokens of one upstream sign-in, kept in a store wrapped by
 * `createEncryptedStore` (AES-256-GCM, bound to namespace and key) so a dump of the backend
 * alone reveals none of them, and refreshed before they expire
 * so a client's session outlives the IdP's short access tokens. Grants and browser sessions
 * refer to a login by id; the tokens never leave the gateway except toward the MCP upstream.
 */
import type { Logger } from '../../logger.js';
import { randomToken } from '../../oauth/pkce.js';
import type { Store } from '../../store/store.js';
import { RecentCache } from '../recent-cache.js';
import type { UpstreamIdentityProvider, UpstreamTokens } from './types.js';

export const LOGINS_NS = 'gateway:upstream-logins';

export interface UpstreamLoginsOptions {
  /** An encrypting store (`createEncryptedStore`): these values are IdP tokens. */
  store: Store;
  clock: () => number;
  provider: UpstreamIdentityProvider;
  /** Refresh this many seconds before the upstream access token expires. */
  skewSeconds: number;
  /** How long a login is kept (the refresh-token lifetime of grants that use it). */
  ttlSeconds: number;
  /**
   * How long a fresh access token read here is reused without reading the store again (never
   * into its refresh window); 0: read every time. The gateway's `accessTokenCacheSeconds`.
   */
  cacheSeconds?: number;
  logger: Logger;
}

export class UpstreamLogins {
  /** Fresh access tokens recently read, per login: an MCP request costs no store read and decrypt. */
  readonly #recent: RecentCache<{ token: string; expiresAt: number }>;

  constructor(private readonly o: UpstreamLoginsOptions) {
    this.#recent = new RecentCache(o.cacheSeconds ?? 0);
  }

  /** Stores the tokens of a fresh upstream sign-in; returns the login id. */
  async save(tokens: UpstreamTokens): Promise<string> {
    const loginId = randomToken(16);
    await this.#write(loginId, tokens);
    return loginId;
  }

  /**
   * A fresh upstream access token for the login, refreshing it under a lock when it is within
   * `skewSeconds` of expiry (concurrent callers share one refresh; replicas re-read after the lock).
   */
  async accessToken(loginId: string): Promise<string | undefined> {
    const recent = this.#recent.get(loginId, this.o.clock());
    if (recent) return recent.token;
    const epoch = this.#recent.epoch; // a write or delete while we read: not remembered
    const cached = await this.#read(loginId);
    if (!cached) return undefined;
    if (!this.#stale(cached)) return this.#remember(loginId, cached, epoch);
    const refresh = this.o.provider.refresh?.bind(this.o.provider);
    if (!refresh || !cached.refreshToken)
      return cached.expiresAt !== undefined && cached.expiresAt > this.o.clock()
        ? cached.accessToken
        : undefined;
    return this.o.store.withLock(LOGINS_NS, loginId, async () => {
      const current = await this.#read(loginId);
      if (!current) return undefined;
      if (!this.#stale(current)) return this.#remember(loginId, current, epoch); // someone else refreshed
      try {
        const next = await refresh(current);
        await this.#write(loginId, next);
        this.o.logger.debug({ loginId }, 'upstream token refreshed');
        return this.#remember(loginId, next, this.#recent.epoch);
      } catch (err) {
        this.o.logger.warn({ err, loginId }, 'upstream token refresh failed');
        // Still valid for a moment: use it; expired: there is no usable upstream token.
        return current.expiresAt !== undefined && current.expiresAt > this.o.clock()
          ? current.accessToken
          : undefined;
      }
    });
  }

  async delete(loginId: string): Promise<void> {
    try {
      await this.o.store.delete(LOGINS_NS, loginId);
    } finally {
      this.#recent.forget(loginId);
    }
  }

  /** Remembers a fresh token, never into its refresh window; returns it. */
  #remember(loginId: string, tokens: UpstreamTokens, epoch: number): string {
    const refreshAt =
      tokens.expiresAt === undefined
        ? Number.POSITIVE_INFINITY
        : tokens.expiresAt - this.o.skewSeconds * 1000;
    const value = { token: tokens.accessToken, expiresAt: refreshAt };
    this.#recent.set(loginId, loginId, value, this.o.clock(), epoch);
    return tokens.accessToken;
  }

  #stale(tokens: UpstreamTokens): boolean {
    return tokens.expiresAt !== undefined && tokens.expiresAt - this.o.skewSeconds * 1000 <= this.o.clock();
  }

  async #read(loginId: string): Promise<UpstreamTokens | undefined> {
    try {
      return await this.o.store.get<UpstreamTokens>(LOGINS_NS, loginId);
    } catch (err) {
      // decrypt_failed: the gateway key changed; the user signs in again.
      this.o.logger.error({ err, loginId }, 'upstream login cannot be read');
      return undefined;
    }
  }

  async #write(loginId: string, tokens: UpstreamTokens): Promise<void> {
    try {
      await this.o.store.set(LOGINS_NS, loginId, tokens, { ttlSeconds: this.o.ttlSeconds });
    } finally {
      this.#recent.forget(loginId);
    }
  }
}
