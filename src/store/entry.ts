/**
 * What every backend agrees on about an entry: which names are allowed, when it expires, and how
 * its value is written as JSON. Kept here so the backends cannot drift apart.
 */
import { type SetOptions, StoreError } from './store.js';

/** Milliseconds since the epoch; injected so tests control expiry. */
export type Clock = () => number;

/** Rejects names every backend cannot hold alike (Postgres text cannot hold U+0000). */
export function assertEntryName(ns: string, key: string): void {
  if (typeof ns !== 'string' || ns.length === 0)
    throw new TypeError('store namespace must be a non-empty string');
  if (typeof key !== 'string') throw new TypeError('store key must be a string');
  if (ns.includes('\0') || key.includes('\0')) {
    throw new TypeError('store namespace and key must not contain U+0000');
  }
}

/** The TTL in whole milliseconds (at least 1), or undefined for an entry that never expires. */
export function ttlMilliseconds(opts: SetOptions | undefined): number | undefined {
  const ttl = opts?.ttlSeconds;
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError('ttlSeconds must be a positive finite number');
  }
  return Math.max(1, Math.ceil(ttl * 1000));
}

/** The absolute expiry (ms since epoch) for `opts` at `now`, or undefined. */
export function expiresAtFrom(opts: SetOptions | undefined, now: number): number | undefined {
  const ttl = ttlMilliseconds(opts);
  return ttl === undefined ? undefined : now + ttl;
}

/** An entry whose expiry has been reached is absent: expiry is inclusive of `expiresAt`. */
export function isExpired(expiresAt: number | null | undefined, now: number): boolean {
  return expiresAt !== undefined && expiresAt !== null && expiresAt <= now;
}

/** JSON text of a value; `undefined` (and functions, symbols) are not values. */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('store values must be JSON-serialisable (got undefined)');
  return text;
}

/**
 * Parses stored JSON text. `where` names the place (a file, a row) for the error; the text itself
 * is never put in the error, as it may hold a secret.
 */
export function decodeValue<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    // No cause: V8's SyntaxError message quotes the text, which may hold a secret.
    throw new StoreError('corrupt_value', `stored value in ${where} is not valid JSON`);
  }
}

/** Rejects every call on a closed store. */
export function assertOpen(closed: boolean, backend: string): void {
  if (closed) throw new StoreError('store_unavailable', `the ${backend} store is closed`);
}
