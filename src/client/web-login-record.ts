/**
 * What the web flow keeps between `begin` and `complete`: a pending login stored under
 * SHA-256(state), never under the state itself, with its PKCE verifier sealed (AES-256-GCM)
 * under a key derived from the state (HKDF, RFC 5869) and the host's key when it gives one.
 * A dump of the store alone therefore yields neither a usable state nor a verifier.
 */

import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { PreparedAuthorization } from './authorizer.js';
import { ClientError } from './errors.js';

export const NS_PENDING = 'host:web-logins';
/** Hashes of states already completed, kept a while so a replay gets a clear error. */
export const NS_USED = 'host:web-logins-used';
export const USED_TTL_SECONDS = 3600;

export interface SealedVerifier {
  iv: string;
  tag: string;
  ct: string;
}

/** What `prepareAuthorization` returned, minus what must not be stored in the clear (state, verifier). */
export interface PendingLogin extends Omit<PreparedAuthorization, 'url' | 'state' | 'codeVerifier'> {
  v: 1;
  /** ownerOf(userId): the login completes only for the user who began it. */
  owner: string;
  serverId: string;
  serverUrl: string;
  verifier: SealedVerifier;
  createdAt: number;
  expiresAt: number;
}

/** The record's key: hex SHA-256 of the state, so the store never holds a live state. */
export const stateId = (state: string): string => createHash('sha256').update(state, 'utf8').digest('hex');

function verifierKey(state: string, hostKey: Uint8Array | undefined): Buffer {
  const salt = hostKey ?? new Uint8Array(0);
  return Buffer.from(hkdfSync('sha256', Buffer.from(state, 'utf8'), salt, 'portcullis/web-login/pkce', 32));
}

export function sealVerifier(
  verifier: string,
  state: string,
  hostKey: Uint8Array | undefined,
): SealedVerifier {
  const iv = randomBytes(12); // NIST SP 800-38D §8.2.2: random 96-bit IV
  const cipher = createCipheriv('aes-256-gcm', verifierKey(state, hostKey), iv);
  cipher.setAAD(Buffer.from(stateId(state)));
  const ct = Buffer.concat([cipher.update(verifier, 'utf8'), cipher.final()]);
  return {
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    ct: ct.toString('base64url'),
  };
}

export function openVerifier(sealed: SealedVerifier, state: string, hostKey: Uint8Array | undefined): string {
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      verifierKey(state, hostKey),
      Buffer.from(sealed.iv, 'base64url'),
    );
    decipher.setAAD(Buffer.from(stateId(state)));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch (cause) {
    throw new ClientError(
      'authorization_failed',
      'the pending login cannot be decrypted (the host encryption key changed, or the record was tampered with); start the login again',
      { cause },
    );
  }
}

export function assertEncryptionKey(key: Uint8Array | undefined): void {
  if (key !== undefined && (!(key instanceof Uint8Array) || key.length !== 32)) {
    throw new RangeError('encryptionKey must be 32 bytes');
  }
}
