/**
 * Token formats. Every token is opaque to clients, carries ≥ 256 bits of randomness, and is
 * stored only as its SHA-256 (MCP §Token Theft / A17). The grant id rides in the token so a
 * lookup goes straight to one grant record: O(1) however often the grant has rotated.
 *
 *   access token   pca_<grantId>.<secret>
 *   refresh token  pcr_<grantId>.<nonce>.<tag>   tag = HMAC(grant's family key, grantId.nonce)
 *   code           pcc_<secret>
 *
 * The refresh tag lets the gateway recognise a genuine but superseded refresh token of a grant
 * (reuse → revoke the grant, OAuth 2.1 §4.3.1) without keeping a list of every old token.
 * The prefixes let secret scanners find leaked gateway tokens.
 */
import { createHmac, hash, randomFillSync, timingSafeEqual } from 'node:crypto';

export type RandomBytes = (size: number) => Uint8Array;

/**
 * CSPRNG bytes served from a refilled 4 KiB pool: one OpenSSL call per ~60 tokens instead of
 * one per token (a refresh needs three). Bytes are handed out once and never reused.
 */
export function pooledRandomBytes(poolSize = 4096): RandomBytes {
  const pool = Buffer.allocUnsafe(poolSize);
  let offset = poolSize;
  return (size) => {
    if (size > poolSize) return randomFillSync(Buffer.allocUnsafe(size));
    if (offset + size > poolSize) {
      randomFillSync(pool);
      offset = 0;
    }
    const out = Buffer.from(pool.subarray(offset, offset + size)); // a copy: the pool is refilled later
    offset += size;
    return out;
  };
}

const B64 = '[A-Za-z0-9_-]';
const ACCESS = new RegExp(`^pca_(${B64}{22})\\.(${B64}{43})$`);
const REFRESH = new RegExp(`^pcr_(${B64}{22})\\.(${B64}{43})\\.(${B64}{22})$`);

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** SHA-256 of a token, base64url: the only form a token is ever stored in. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'base64url'); // one-shot: a third of createHash's cost per call
}

/** Constant-time comparison of two hashes (or other equal-length strings). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function newGrantId(random: RandomBytes): string {
  return b64(random(16));
}

export function newFamilyKey(random: RandomBytes): string {
  return b64(random(32));
}

export function newAccessToken(grantId: string, random: RandomBytes): string {
  return `pca_${grantId}.${b64(random(32))}`;
}

export function newRefreshToken(grantId: string, familyKey: string, random: RandomBytes): string {
  const nonce = b64(random(32));
  return `pcr_${grantId}.${nonce}.${refreshTag(familyKey, grantId, nonce)}`;
}

export function newAuthorizationCode(random: RandomBytes): string {
  return `pcc_${b64(random(32))}`;
}

function refreshTag(familyKey: string, grantId: string, nonce: string): string {
  return createHmac('sha256', Buffer.from(familyKey, 'base64url'))
    .update(`${grantId}.${nonce}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url');
}

/** The grant an access token points at, or undefined when it is not one of ours. */
export function parseAccessToken(token: string): { grantId: string } | undefined {
  const m = ACCESS.exec(token);
  return m ? { grantId: m[1]! } : undefined;
}

export interface ParsedRefreshToken {
  grantId: string;
  /** Whether the tag proves the token was minted for this grant (checked with its family key). */
  authentic(familyKey: string): boolean;
}

export function parseRefreshToken(token: string): ParsedRefreshToken | undefined {
  const m = REFRESH.exec(token);
  if (!m) return undefined;
  const [, grantId, nonce, tag] = m as unknown as [string, string, string, string];
  return { grantId, authentic: (familyKey) => sameHash(refreshTag(familyKey, grantId, nonce), tag) };
}
