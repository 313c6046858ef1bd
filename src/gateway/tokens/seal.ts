/**
 * AES-256-GCM sealing of the grace-window token pair with a key derived from the refresh token
 * the client holds: only a holder of that token can read the pair, so a store dump alone reveals
 * nothing. (Gateway-key encryption at rest is `createEncryptedStore`.)
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { pooledRandomBytes } from './format.js';

const VERSION = 'v1';
/** IVs from a CSPRNG pool: one OpenSSL call per ~340 seals instead of one each (~8% of a refresh). */
const ivBytes = pooledRandomBytes();

/**
 * The secret is a refresh token with 256 random bits, so one domain-separated SHA-256 is a sound
 * KDF here (HKDF's extract step adds nothing for a uniformly random input, and costs ~4% of a refresh).
 */
function deriveKey(secret: string, info: string): Buffer {
  return createHash('sha256').update(info).update('\0').update(secret, 'utf8').digest();
}

function seal(key: Uint8Array, value: unknown, aad: string): string {
  const iv = ivBytes(12) as Buffer; // pooledRandomBytes hands out Buffers
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return [
    VERSION,
    iv.toString('base64url'),
    ct.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join('.');
}

/** Opens a sealed value; undefined when the key is wrong or the value was tampered with. */
function open<T>(key: Uint8Array, sealed: string, aad: string): T | undefined {
  const [version, iv, ct, tag] = sealed.split('.');
  if (version !== VERSION || !iv || !ct || !tag) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const pt = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
    return JSON.parse(pt.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export function sealWithSecret(secret: string, value: unknown, aad: string): string {
  return seal(deriveKey(secret, 'portcullis grace pair'), value, aad);
}

export function openWithSecret<T>(secret: string, sealed: string, aad: string): T | undefined {
  return open<T>(deriveKey(secret, 'portcullis grace pair'), sealed, aad);
}
