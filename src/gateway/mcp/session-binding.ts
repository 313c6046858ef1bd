/**
 * R18 for an HTTP upstream: the upstream mints its own `Mcp-Session-Id`, and the gateway binds it
 * to the user who created it. The client sees `<upstream id>.<mac>`, the MAC being an HMAC of the
 * user id and the upstream id; a session id presented by another user (or forged) fails the
 * check and is answered 404, never forwarded (SBP §Session Hijacking). Stateless, so any
 * replica sharing the secret can check it.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** 128-bit tag, base64url (22 characters; never contains '.'). */
const TAG_BYTES = 16;
const CACHE_ENTRIES = 10_000;

export interface SessionBinding {
  /** The id handed to the client for an upstream session created by `userId`. */
  wrap(upstreamId: string, userId: string): string;
  /** The upstream id, if `clientId` was issued to `userId`; else undefined. */
  unwrap(clientId: string, userId: string): string | undefined;
}

/**
 * The binding secret every replica holding the gateway's encryption key derives alike (HKDF-SHA256,
 * its own label), so a session id handed out by one replica — or before a restart — still checks.
 */
export function sessionSecretFromKey(key: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), 'portcullis/gateway/session-binding', 32));
}

export function createSessionBinding(secret: Uint8Array = randomBytes(32)): SessionBinding {
  if (secret.byteLength < 16) throw new TypeError('sessionSecret must be at least 16 bytes');
  const key = Buffer.from(secret);
  const tag = (upstreamId: string, userId: string) =>
    createHmac('sha256', key).update(userId).update('\0').update(upstreamId).digest().subarray(0, TAG_BYTES);
  // Recent ids both ways, so a busy session costs a Map lookup, not an HMAC. Keyed by the id
  // alone (no string building per request); the user is compared on the hit.
  const wrapped = new Map<string, { userId: string; id: string }>();
  const verified = new Map<string, { userId: string; upstreamId: string }>();
  return {
    wrap(upstreamId, userId) {
      const hit = wrapped.get(upstreamId);
      if (hit?.userId === userId) return hit.id;
      const id = `${upstreamId}.${tag(upstreamId, userId).toString('base64url')}`;
      if (wrapped.size >= CACHE_ENTRIES) wrapped.clear();
      wrapped.set(upstreamId, { userId, id });
      return id;
    },
    unwrap(clientId, userId) {
      const hit = verified.get(clientId);
      if (hit) return hit.userId === userId ? hit.upstreamId : undefined;
      const dot = clientId.lastIndexOf('.');
      if (dot <= 0) return undefined;
      const upstreamId = clientId.slice(0, dot);
      const presented = Buffer.from(clientId.slice(dot + 1), 'base64url');
      if (presented.length !== TAG_BYTES || !timingSafeEqual(presented, tag(upstreamId, userId)))
        return undefined;
      if (verified.size >= CACHE_ENTRIES) verified.clear();
      verified.set(clientId, { userId, upstreamId });
      return upstreamId;
    },
  };
}
