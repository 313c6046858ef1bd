/**
 * Grants: what a user approved for one client, and every token minted from that approval.
 *
 * One record per grant, of constant size however many times it rotates (docs/decisions/0010):
 * the current refresh token's hash, the previous one's hash with its grace deadline and the
 * pair it was answered with (sealed with a key derived from that previous token), and at most
 * two live access-token hashes. Every operation is one lock, one read and at most one write (a
 * refresh is one `updateEntry`: a single transaction on SQLite); revoking a grant is one delete,
 * and every token of it dies with the record.
 */
import { OAuthError } from '../../oauth/errors.js';
import { type Store, updateEntry } from '../../store/store.js';
import { RecentCache } from '../recent-cache.js';
import {
  hashToken,
  newAccessToken,
  newFamilyKey,
  newGrantId,
  newRefreshToken,
  parseAccessToken,
  parseRefreshToken,
  type RandomBytes,
  sameHash,
} from './format.js';
import { openWithSecret, sealWithSecret } from './seal.js';

export const GRANTS_NS = 'gateway:grants';
const MAX_ACCESS_SLOTS = 2;

interface AccessSlot {
  hash: string;
  expiresAt: number;
  scopes: string[];
}

export interface GrantRecord {
  v: 1;
  id: string;
  clientId: string;
  userId: string;
  /** The consented scopes; refreshes may narrow an access token, never widen (OAuth 2.1 §4.3.1). */
  scopes: string[];
  /** RFC 8707 audience: the canonical MCP URL. */
  resource: string;
  claims: Record<string, unknown>;
  /** The upstream login whose (encrypted) IdP tokens this grant draws on. */
  loginId?: string;
  createdAt: number;
  /** When the grant dies: the current refresh token's expiry (sliding), else the access token's. */
  expiresAt: number;
  familyKey: string;
  refreshHash?: string;
  /** The refresh token just rotated out, honoured until `graceUntil` with the same new pair. */
  previous?: { hash: string; graceUntil: number; sealed: string };
  access: AccessSlot[];
}

/** RFC 6749 §5.1 token response. */
export interface TokenSet {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

interface SealedPair {
  access_token: string;
  refresh_token: string;
  accessExpiresAt: number;
  scope: string;
}

export interface GrantsOptions {
  store: Store;
  clock: () => number;
  random: RandomBytes;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  refreshGraceSeconds: number;
  /** How long a verified access token is remembered in this process (0: read the store every time). */
  accessTokenCacheSeconds?: number;
}

export interface NewGrant {
  clientId: string;
  userId: string;
  scopes: string[];
  resource: string;
  claims: Record<string, unknown>;
  loginId?: string | undefined;
  withRefreshToken: boolean;
}

/** A successful check; the same object is answered again while it is remembered. */
export interface AccessTokenGranted {
  ok: true;
  grant: GrantRecord;
  scopes: string[];
  expiresAt: number;
}

export type AccessTokenCheck = AccessTokenGranted | { ok: false; reason: 'unknown' | 'expired' | 'audience' };

export class Grants {
  readonly #verified: RecentCache<AccessTokenGranted>;

  constructor(private readonly o: GrantsOptions) {
    this.#verified = new RecentCache(o.accessTokenCacheSeconds ?? 0);
  }

  /** Creates a grant and its first tokens (authorization_code grant, OAuth 2.1 §4.1.3). */
  async issue(input: NewGrant): Promise<{ grant: GrantRecord; tokens: TokenSet }> {
    const now = this.o.clock();
    const grant: GrantRecord = {
      v: 1,
      id: newGrantId(this.o.random),
      clientId: input.clientId,
      userId: input.userId,
      scopes: input.scopes,
      resource: input.resource,
      claims: input.claims,
      ...(input.loginId ? { loginId: input.loginId } : {}),
      createdAt: now,
      expiresAt: now,
      familyKey: newFamilyKey(this.o.random),
      access: [],
    };
    const tokens = this.#mint(grant, input.scopes, input.withRefreshToken, now);
    await this.#save(grant, now);
    return { grant, tokens };
  }

  /**
   * The refresh_token grant (OAuth 2.1 §4.3): rotate, or within the grace window answer the
   * previous token with the same pair; any other reuse of a genuine token revokes the grant.
   */
  async refresh(
    refreshToken: string,
    request: { clientId: string; scopes?: string[] | undefined; resource?: string | undefined },
  ): Promise<TokenSet> {
    const parsed = parseRefreshToken(refreshToken);
    if (!parsed) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    // One atomic read-modify-write of the grant record (one transaction on SQLite).
    const outcome = await this.#writing(parsed.grantId, () =>
      updateEntry<GrantRecord, TokenSet | OAuthError>(this.o.store, GRANTS_NS, parsed.grantId, (stored) => {
        const now = this.o.clock();
        const grant = stored && stored.expiresAt > now ? stored : undefined;
        const fail = (error: OAuthError) => ({ result: error });
        if (!grant || !parsed.authentic(grant.familyKey)) {
          return fail(new OAuthError('invalid_grant', 'refresh token is invalid, expired or revoked'));
        }
        // OAuth 2.1 §4.3.1: bound to the client it was issued to.
        if (grant.clientId !== request.clientId) {
          return fail(new OAuthError('invalid_grant', 'refresh token was issued to another client'));
        }
        // RFC 8707 §2.2: the audience cannot change on refresh.
        if (request.resource !== undefined && request.resource !== grant.resource) {
          return fail(new OAuthError('invalid_target', 'resource does not match the grant'));
        }
        const scopes = request.scopes ?? grant.scopes;
        const extra = scopes.filter((s) => !grant.scopes.includes(s));
        // OAuth 2.1 §4.3.1: requested scope must be within the original grant.
        if (extra.length) return fail(new OAuthError('invalid_scope', `not granted: ${extra.join(' ')}`));

        const presented = hashToken(refreshToken);
        if (grant.refreshHash && sameHash(presented, grant.refreshHash)) {
          const tokens = this.#mint(grant, scopes, true, now, refreshToken);
          return { result: tokens, set: { value: grant, ttlSeconds: this.#ttlSeconds(grant, now) } };
        }
        const prev = grant.previous;
        if (prev && sameHash(presented, prev.hash) && now < prev.graceUntil) {
          const pair = openWithSecret<SealedPair>(refreshToken, prev.sealed, grant.id);
          if (pair) {
            return {
              result: {
                access_token: pair.access_token,
                token_type: 'Bearer',
                expires_in: Math.max(0, Math.floor((pair.accessExpiresAt - now) / 1000)),
                refresh_token: pair.refresh_token,
                scope: pair.scope,
              },
            };
          }
        }
        // A genuine token of this grant that is no longer current: replay (RFC 9700 §4.14.2).
        return {
          result: new OAuthError('invalid_grant', 'refresh token was already used; the grant is revoked'),
          delete: true,
        };
      }),
    );
    if (outcome instanceof OAuthError) throw outcome;
    return outcome;
  }

  /** The bearer check behind the MCP endpoint: known, unexpired, and for this audience. */
  async verifyAccessToken(token: string, resource: string): Promise<AccessTokenCheck> {
    const parsed = parseAccessToken(token);
    if (!parsed) return { ok: false, reason: 'unknown' };
    const now = this.o.clock();
    const hash = hashToken(token);
    const remembered = this.#verified.get(hash, now); // never past the token's expiry
    if (remembered) {
      if (remembered.grant.resource !== resource) return { ok: false, reason: 'audience' };
      return remembered;
    }
    const epoch = this.#verified.epoch;
    const grant = await this.#load(parsed.grantId, now);
    const slot = grant?.access.find((s) => sameHash(s.hash, hash));
    if (!grant || !slot) return { ok: false, reason: 'unknown' };
    if (slot.expiresAt <= now) return { ok: false, reason: 'expired' };
    if (grant.resource !== resource) return { ok: false, reason: 'audience' }; // RFC 8707, MCP R13
    const granted: AccessTokenGranted = { ok: true, grant, scopes: slot.scopes, expiresAt: slot.expiresAt };
    this.#verified.set(hash, grant.id, granted, now, epoch);
    return granted;
  }

  /** Finds the grant a token belongs to, if it is one of ours and genuine. */
  async lookup(
    token: string,
  ): Promise<
    { grant: GrantRecord; kind: 'access_token' | 'refresh_token'; active: AccessSlot | boolean } | undefined
  > {
    const now = this.o.clock();
    const access = parseAccessToken(token);
    if (access) {
      const grant = await this.#load(access.grantId, now);
      const hash = hashToken(token);
      const slot = grant?.access.find((s) => sameHash(s.hash, hash));
      if (!grant || !slot) return undefined;
      return { grant, kind: 'access_token', active: slot.expiresAt > now ? slot : false };
    }
    const refresh = parseRefreshToken(token);
    if (refresh) {
      const grant = await this.#load(refresh.grantId, now);
      if (!grant || !refresh.authentic(grant.familyKey)) return undefined;
      const current = grant.refreshHash !== undefined && sameHash(hashToken(token), grant.refreshHash);
      return { grant, kind: 'refresh_token', active: current };
    }
    return undefined;
  }

  /** Revokes a whole grant: every access and refresh token minted from it (RFC 7009 §2.1). */
  async revoke(grantId: string): Promise<void> {
    await this.#writing(grantId, () =>
      this.o.store.withLock(GRANTS_NS, grantId, () => this.o.store.delete(GRANTS_NS, grantId)),
    );
  }

  /** Revokes one access token, leaving the grant (and its refresh token) alive. */
  async revokeAccessToken(grantId: string, token: string): Promise<void> {
    await this.o.store.withLock(GRANTS_NS, grantId, async () => {
      const now = this.o.clock();
      const grant = await this.#load(grantId, now);
      if (!grant) return;
      const hash = hashToken(token);
      grant.access = grant.access.filter((s) => !sameHash(s.hash, hash));
      await this.#save(grant, now);
    });
  }

  /** Mints an access token (and a rotated refresh token) into `grant`; the caller saves it. */
  #mint(
    grant: GrantRecord,
    scopes: string[],
    withRefresh: boolean,
    now: number,
    presented?: string,
  ): TokenSet {
    const accessToken = newAccessToken(grant.id, this.o.random);
    const accessExpiresAt = now + this.o.accessTokenTtl * 1000;
    grant.access = [
      ...grant.access.filter((s) => s.expiresAt > now).slice(-(MAX_ACCESS_SLOTS - 1)),
      { hash: hashToken(accessToken), expiresAt: accessExpiresAt, scopes },
    ];
    const scope = scopes.join(' ');
    const tokens: TokenSet = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.o.accessTokenTtl,
      scope,
    };
    if (!withRefresh) {
      grant.expiresAt = Math.max(grant.expiresAt, accessExpiresAt);
      return tokens;
    }
    const refreshToken = newRefreshToken(grant.id, grant.familyKey, this.o.random);
    if (presented && grant.refreshHash) {
      const pair: SealedPair = {
        access_token: accessToken,
        refresh_token: refreshToken,
        accessExpiresAt,
        scope,
      };
      grant.previous = {
        hash: grant.refreshHash,
        graceUntil: now + this.o.refreshGraceSeconds * 1000,
        sealed: sealWithSecret(presented, pair, grant.id),
      };
    }
    grant.refreshHash = hashToken(refreshToken);
    grant.expiresAt = Math.max(accessExpiresAt, now + this.o.refreshTokenTtl * 1000);
    tokens.refresh_token = refreshToken;
    return tokens;
  }

  async #load(grantId: string, now: number): Promise<GrantRecord | undefined> {
    const grant = await this.o.store.get<GrantRecord>(GRANTS_NS, grantId);
    return grant && grant.expiresAt > now ? grant : undefined;
  }

  async #save(grant: GrantRecord, now: number): Promise<void> {
    await this.#writing(grant.id, () =>
      this.o.store.set(GRANTS_NS, grant.id, grant, { ttlSeconds: this.#ttlSeconds(grant, now) }),
    );
  }

  /** Runs a write to a grant, then forgets what this process remembers of its access tokens. */
  async #writing<T>(grantId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.#verified.forget(grantId);
    }
  }

  #ttlSeconds(grant: GrantRecord, now: number): number {
    return Math.max(1, Math.ceil((grant.expiresAt - now) / 1000));
  }
}
