/**
 * Per-key isolation for host apps (docs/decisions/0040-manager-key-isolation.md): everything the
 * client core stores for one (userId, serverId) lives in namespaces prefixed with hashes of both,
 * and the auth fetch of a key is handed a Store view that can only address those namespaces.
 * So one user's tokens can never serve another user's call: no code path can even name them.
 */
import { createHash } from 'node:crypto';
import type { LockOptions, SetOptions, Store } from '../store/store.js';

/** Which user, which of that user's MCP servers. `userId` must come from the host's own login. */
export interface ConnectionKey {
  userId: string;
  serverId: string;
}

/** 128 bits of SHA-256, base64url: ids may be e-mail addresses, which stay out of the store's keys. */
function digest(label: string, value: string): string {
  return createHash('sha256')
    .update(`portcullis/host/${label}\0${value}`, 'utf8')
    .digest('base64url')
    .slice(0, 22);
}

export function assertId(value: unknown, field: 'userId' | 'serverId'): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
    throw new TypeError(`${field} must be a non-empty string without U+0000`);
  }
}

export function assertConnectionKey(key: ConnectionKey): void {
  assertId(key?.userId, 'userId');
  assertId(key?.serverId, 'serverId');
}

/** A stable id for a key, usable as a Map key (the ids cannot contain U+0000). */
export const connectionId = (key: ConnectionKey): string => `${key.userId}\0${key.serverId}`;

/** The namespace prefix of everything one user owns. */
export const userNamespace = (userId: string): string => `host:${digest('user', userId)}`;

/** The namespace prefix of one key's OAuth state (server record, registration, tokens, DPoP key). */
export const keyNamespace = (key: ConnectionKey): string =>
  `${userNamespace(key.userId)}:${digest('server', key.serverId)}`;

/** Where the manager keeps a user's server registry (key: serverId). */
export const registryNamespace = (userId: string): string => `${userNamespace(userId)}:servers`;

/** The user hash a pending web login is bound to. */
export const ownerOf = (userId: string): string => digest('user', userId);

/** A view of `store` whose every namespace is `${prefix}:${ns}`. */
export function prefixedStore(store: Store, prefix: string): Store {
  const ns = (name: string) => `${prefix}:${name}`;
  return {
    get: <T>(n: string, key: string) => store.get<T>(ns(n), key),
    set: <T>(n: string, key: string, value: T, opts?: SetOptions) => store.set(ns(n), key, value, opts),
    delete: (n: string, key: string) => store.delete(ns(n), key),
    take: <T>(n: string, key: string) => store.take<T>(ns(n), key),
    withLock: <R>(n: string, key: string, fn: () => Promise<R>, opts?: LockOptions) =>
      store.withLock(ns(n), key, fn, opts),
    list: (n: string) => store.list(ns(n)),
    // The view does not own the store: the host closes it.
    close: async () => {},
  };
}

/** The Store view for one key's OAuth state. */
export const keyStore = (store: Store, key: ConnectionKey): Store => prefixedStore(store, keyNamespace(key));
