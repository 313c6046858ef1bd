/**
 * AES-256-GCM sealing for small JSON values.
 * - `sealWithSecret`: the key is derived (HKDF-SHA256) from a token the client holds, so the
 *   sealed value (the grace-window token pair) is unreadable from a store dump alone.
 * - `sealWithKey`: a gateway key, for upstream IdP tokens at rest.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';

function deriveKey(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), info, 32));
}

function seal(key: Uint8Array, value: unknown, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
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

export function sealWithKey(key: Uint8Array, value: unknown, aad: string): string {
  return seal(key, value, aad);
}

export function openWithKey<T>(key: Uint8Array, sealed: string, aad: string): T | undefined {
  return open<T>(key, sealed, aad);
}
