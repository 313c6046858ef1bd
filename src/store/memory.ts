/**
 * The in-process store: Maps, lazy expiry against an injected clock, and an in-process mutex.
 * For tests and single-process hosts that do not need state to outlive the process.
 */
import { assertEntryName, assertOpen, type Clock, encodeValue, expiresAtFrom, isExpired } from './entry.js';
import { KeyedMutex, runExclusive } from './lock.js';
import type { LockOptions, SetOptions, Store } from './store.js';

export interface MemoryStoreOptions {
  clock?: Clock;
}

interface Entry {
  value: unknown;
  expiresAt: number | undefined;
}

export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const clock = options.clock ?? Date.now;
  const namespaces = new Map<string, Map<string, Entry>>();
  const mutex = new KeyedMutex();
  let closed = false;

  /** The live entry, dropping it first if it has expired. */
  function live(ns: string, key: string): Entry | undefined {
    const entries = namespaces.get(ns);
    const entry = entries?.get(key);
    if (entry === undefined) return undefined;
    if (isExpired(entry.expiresAt, clock())) {
      entries?.delete(key);
      return undefined;
    }
    return entry;
  }

  // Values are copied in and out so a caller mutating an object cannot change stored state.
  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, key);
      const entry = live(ns, key);
      return entry === undefined ? undefined : (structuredClone(entry.value) as T);
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, key);
      encodeValue(value); // the same values every backend accepts: JSON
      const expiresAt = expiresAtFrom(opts, clock());
      let entries = namespaces.get(ns);
      if (entries === undefined) {
        entries = new Map();
        namespaces.set(ns, entries);
      }
      entries.set(key, { value: structuredClone(value), expiresAt });
    },

    async delete(ns: string, key: string): Promise<void> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, key);
      namespaces.get(ns)?.delete(key);
    },

    // Atomic: the read and the delete happen in one synchronous step.
    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, key);
      const entry = live(ns, key);
      if (entry === undefined) return undefined;
      namespaces.get(ns)?.delete(key);
      return entry.value as T;
    },

    async withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, key);
      return runExclusive({ mutex, ns, key, opts, fn });
    },

    async list(ns: string): Promise<string[]> {
      assertOpen(closed, 'memory');
      assertEntryName(ns, '');
      const entries = namespaces.get(ns);
      if (entries === undefined) return [];
      return [...entries.keys()].filter((key) => live(ns, key) !== undefined);
    },

    async close(): Promise<void> {
      closed = true;
      namespaces.clear();
    },
  };
}
