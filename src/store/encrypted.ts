/**
 * Encryption at rest for any Store: every value is sealed with AES-256-GCM before it reaches the
 * backend, so a dump of the backend alone reveals no token or secret. Keys stay in the clear
 * (they are identifiers, see store.ts); each value is bound to its (ns, key) by the AAD.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import * as z from 'zod/mini';
import { assertEntryName, decodeValue, encodeValue } from './entry.js';
import { type LockOptions, type SetOptions, type Store, StoreError } from './store.js';

export { type LoadEncryptionKeyOptions, loadEncryptionKey } from './encryption-key.js';

export interface EncryptedStoreOptions {
  /** 32 bytes; see `loadEncryptionKey`. */
  key: Uint8Array;
}

/** NIST SP 800-38D §8.2.2: a random 96-bit IV; full 128-bit tags, never truncated ones. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

const sealedSchema = z.object({ v: z.literal(1), iv: z.string(), tag: z.string(), ct: z.string() });
type Sealed = z.infer<typeof sealedSchema>;

/** `ns\0key`: unambiguous, as neither may contain U+0000 (see assertEntryName). */
function additionalData(ns: string, key: string): Buffer {
  return Buffer.from(`${ns}\0${key}`, 'utf8');
}

function seal(secret: KeyObject, ns: string, key: string, value: unknown): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(ns, key));
  const ct = Buffer.concat([cipher.update(encodeValue(value), 'utf8'), cipher.final()]);
  return {
    v: 1,
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    ct: ct.toString('base64url'),
  };
}

function open<T>(secret: KeyObject, ns: string, key: string, stored: unknown): T {
  const failed = () =>
    new StoreError(
      'decrypt_failed',
      `value in namespace "${ns}" cannot be decrypted (wrong key, or tampered)`,
    );
  const parsed = sealedSchema.safeParse(stored);
  if (!parsed.success) throw failed();
  const iv = Buffer.from(parsed.data.iv, 'base64url');
  const tag = Buffer.from(parsed.data.tag, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw failed();
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(ns, key));
    decipher.setAuthTag(tag);
    plaintext = Buffer.concat([
      decipher.update(Buffer.from(parsed.data.ct, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw failed();
  }
  return decodeValue<T>(plaintext, `namespace "${ns}"`);
}

export function createEncryptedStore(inner: Store, options: EncryptedStoreOptions): Store {
  if (!(options.key instanceof Uint8Array) || options.key.length !== 32) {
    throw new RangeError('the encryption key must be 32 bytes');
  }
  // A KeyObject: the bytes stay out of reach of an accidental log or inspect of this store.
  const secret = createSecretKey(options.key);

  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const stored = await inner.get<unknown>(ns, key);
      return stored === undefined ? undefined : open<T>(secret, ns, key, stored);
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertEntryName(ns, key);
      await inner.set(ns, key, seal(secret, ns, key, value), opts);
    },

    delete: (ns: string, key: string) => inner.delete(ns, key),

    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertEntryName(ns, key);
      const stored = await inner.take<unknown>(ns, key);
      return stored === undefined ? undefined : open<T>(secret, ns, key, stored);
    },

    withLock: <R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions) =>
      inner.withLock(ns, key, fn, opts),

    list: (ns: string) => inner.list(ns),

    close: () => inner.close(),
  };
}
