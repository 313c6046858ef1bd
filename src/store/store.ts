/**
 * The Store contract: every piece of state portcullis keeps (tokens, registrations, discovery
 * results, PKCE verifiers, codes, grants, consent, sessions) goes through these verbs.
 * Modelled on node-oidc-provider's adapters: the protocol code never knows the backend.
 *
 * Values are JSON-serialisable. `ns` is a namespace ("tokens", "clients", …), `key` any string
 * (backends must accept any characters, e.g. a full server URL).
 */
export interface SetOptions {
  /** Seconds until the entry expires; absent = never. */
  ttlSeconds?: number;
}

export interface LockOptions {
  /** How long to wait for the lock before failing with `StoreError('lock_timeout')`. Default 30 s. */
  timeoutMs?: number;
}

export interface Store {
  get<T>(ns: string, key: string): Promise<T | undefined>;
  set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void>;
  delete(ns: string, key: string): Promise<void>;
  /** Atomic get-and-delete, for one-time values (state, codes): two concurrent takers never both win. */
  take<T>(ns: string, key: string): Promise<T | undefined>;
  /** Mutual exclusion on (ns, key) across callers, processes and replicas sharing the backend. */
  withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R>;
  /** Every key in a namespace (unexpired). Used by `status` and `logout --all`. */
  list(ns: string): Promise<string[]>;
  close(): Promise<void>;
}

export type StoreErrorCode = 'store_unavailable' | 'lock_timeout' | 'corrupt_value' | 'decrypt_failed';

/** A failure of the storage layer itself, with a stable code a host can switch on. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
