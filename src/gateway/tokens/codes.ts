/**
 * Authorization codes (OAuth 2.1 §4.1.2, §4.1.3): single use, ≤ 10 minutes, bound to the client,
 * the redirect URI and the PKCE challenge, stored only by hash. A redeemed code stays on record
 * (as redeemed, until it would have expired) so a second redemption can revoke what the first
 * one issued (OAuth 2.1 §4.1.2 / A8) — but only when the replay itself would have been valid.
 */
import { OAuthError } from '../../oauth/errors.js';
import { verifyCodeChallengeS256 } from '../../oauth/pkce.js';
import type { Store } from '../../store/store.js';
import { hashToken, newAuthorizationCode, type RandomBytes } from './format.js';

export const CODES_NS = 'gateway:codes';

/** What the user approved at /authorize, carried by the code to /token. */
export interface CodeGrantData {
  clientId: string;
  redirectUri: string;
  /** Whether the authorization request carried redirect_uri (then the token request must too). */
  redirectUriSent: boolean;
  codeChallenge: string;
  scopes: string[];
  resource: string;
  userId: string;
  claims: Record<string, unknown>;
  loginId?: string;
}

interface CodeRecord extends CodeGrantData {
  expiresAt: number;
  /** Set once redeemed: the grant the code produced, revoked on replay. */
  redeemedGrantId?: string;
}

export interface RedeemRequest {
  clientId: string;
  redirectUri: string | undefined;
  codeVerifier: string | undefined;
  resource: string | undefined;
}

export class AuthorizationCodes {
  constructor(
    private readonly o: { store: Store; clock: () => number; random: RandomBytes; codeTtl: number },
  ) {}

  async issue(data: CodeGrantData): Promise<string> {
    const code = newAuthorizationCode(this.o.random);
    const record: CodeRecord = { ...data, expiresAt: this.o.clock() + this.o.codeTtl * 1000 };
    await this.o.store.set(CODES_NS, hashToken(code), record, { ttlSeconds: this.o.codeTtl });
    return code;
  }

  /**
   * Checks the code against the token request and hands its data to `issue` exactly once.
   * `revoke` is called with the first redemption's grant when a valid replay arrives.
   */
  async redeem<T>(
    code: string,
    request: RedeemRequest,
    issue: (data: CodeGrantData) => Promise<{ grantId: string; result: T }>,
    revoke: (grantId: string) => Promise<void>,
  ): Promise<T> {
    const key = hashToken(code);
    return this.o.store.withLock(CODES_NS, key, async () => {
      const now = this.o.clock();
      const record = await this.o.store.get<CodeRecord>(CODES_NS, key);
      if (!record || record.expiresAt <= now) {
        throw new OAuthError('invalid_grant', 'authorization code is invalid or expired');
      }
      checkBinding(record, request);
      if (record.redeemedGrantId) {
        // OAuth 2.1 §4.1.2: a code used twice is denied and its tokens SHOULD be revoked.
        await revoke(record.redeemedGrantId);
        throw new OAuthError('invalid_grant', 'authorization code was already used; its tokens are revoked');
      }
      const { grantId, result } = await issue(record);
      const ttlSeconds = Math.max(1, Math.ceil((record.expiresAt - now) / 1000));
      await this.o.store.set(CODES_NS, key, { ...record, redeemedGrantId: grantId }, { ttlSeconds });
      return result;
    });
  }
}

function checkBinding(record: CodeRecord, request: RedeemRequest): void {
  // OAuth 2.1 §4.1.3: issued to this client.
  if (record.clientId !== request.clientId) {
    throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
  }
  // OAuth 2.1 §4.1.3: redirect_uri required if the authorization request had one, and identical.
  if (record.redirectUriSent && request.redirectUri === undefined) {
    throw new OAuthError(
      'invalid_grant',
      'redirect_uri is required (it was sent in the authorization request)',
    );
  }
  if (request.redirectUri !== undefined && request.redirectUri !== record.redirectUri) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  }
  // OAuth 2.1 §4.1.3 / RFC 7636 §4.6: a challenge was stored, so the verifier is required and must match.
  if (request.codeVerifier === undefined) {
    throw new OAuthError('invalid_grant', 'code_verifier is required');
  }
  if (!verifyCodeChallengeS256(request.codeVerifier, record.codeChallenge)) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
  }
  // RFC 8707 §2.2: the resource must be the one the code was issued for.
  if (request.resource !== undefined && request.resource !== record.resource) {
    throw new OAuthError('invalid_target', 'resource does not match the authorization request');
  }
}
