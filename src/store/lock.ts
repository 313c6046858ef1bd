/**
 * The pieces every `withLock` is built from: an in-process per-key mutex (FIFO, with timeout),
 * polling a cross-process lock with bounded backoff, and the shared shape that puts the two
 * together under one deadline. Lock deadlines use the monotonic clock, not the injected one:
 * the injected clock drives value expiry, and a test that moves it must not break locking.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LockOptions } from './store.js';
import { StoreError } from './store.js';

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** How long a cross-process lock outlives a holder that died without releasing it. */
export const LOCK_LEASE_MS = 10_000;

const MIN_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 200;

type Release = () => void;

export function lockTimeout(ns: string, timeoutMs: number): StoreError {
  return new StoreError('lock_timeout', `lock in namespace "${ns}" not acquired within ${timeoutMs} ms`);
}

/** Mutual exclusion per key within this process; waiters are served first come, first served. */
export class KeyedMutex {
  /** Present while a key is held; the array holds the waiters in arrival order. */
  readonly #queues = new Map<string, Array<() => void>>();

  /** Whether someone in this process holds `key` (or waits for it). */
  isHeld(key: string): boolean {
    return this.#queues.has(key);
  }

  acquire(key: string, timeoutMs: number, onTimeout: () => Error): Promise<Release> {
    const queue = this.#queues.get(key);
    if (queue === undefined) {
      this.#queues.set(key, []);
      return Promise.resolve(this.#releaser(key));
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve(this.#releaser(key));
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(waiter);
        if (at !== -1) queue.splice(at, 1);
        reject(onTimeout());
      }, timeoutMs);
      queue.push(waiter);
    });
  }

  #releaser(key: string): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const queue = this.#queues.get(key);
      const next = queue?.shift();
      if (next) next();
      else this.#queues.delete(key);
    };
  }
}

/**
 * Calls `tryAcquire` until it returns true, sleeping with capped exponential backoff and jitter
 * between attempts, and makes one last attempt at `deadline` (a `performance.now()` instant)
 * before failing with `StoreError('lock_timeout')`.
 */
export async function pollUntilAcquired(
  tryAcquire: () => Promise<boolean>,
  deadline: number,
  onTimeout: () => Error,
): Promise<void> {
  let backoff = MIN_BACKOFF_MS;
  for (;;) {
    if (await tryAcquire()) return;
    const remaining = deadline - performance.now();
    if (remaining <= 0) throw onTimeout();
    // Jitter between half and all of the backoff, so waiters in other processes spread out.
    const delay = Math.min(remaining, backoff / 2 + (Math.random() * backoff) / 2);
    await sleep(Math.max(1, delay));
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  }
}

/** Releases a cross-process lock; rejects if the lock was lost while held. */
export type RemoteRelease = () => Promise<void>;

export interface ExclusiveRun<R> {
  mutex: KeyedMutex;
  ns: string;
  key: string;
  opts: LockOptions | undefined;
  /** Takes the cross-process lock before `deadline`, or rejects (use `timeout()` for the error). */
  acquireRemote?: (deadline: number, timeout: () => Error) => Promise<RemoteRelease>;
  fn: () => Promise<R>;
}

/**
 * The in-process mutex first (a backend's cross-process lock is not re-entrant within one
 * process), then the backend's own lock, both within one `timeoutMs` budget; released in
 * reverse order whatever `fn` does.
 */
export async function runExclusive<R>(run: ExclusiveRun<R>): Promise<R> {
  const timeoutMs = run.opts?.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError('timeoutMs must be a finite number >= 0');
  }
  const deadline = performance.now() + timeoutMs;
  const timeout = () => lockTimeout(run.ns, timeoutMs);
  const releaseLocal = await run.mutex.acquire(`${run.ns}\0${run.key}`, timeoutMs, timeout);
  try {
    if (run.acquireRemote === undefined) return await run.fn();
    const releaseRemote = await run.acquireRemote(deadline, timeout);
    let result: R;
    try {
      result = await run.fn();
    } catch (err) {
      // fn's error is the one the caller needs; a failed release also ends in the lease expiring.
      await releaseRemote().catch(() => {});
      throw err;
    }
    await releaseRemote();
    return result;
  } finally {
    releaseLocal();
  }
}

/**
 * Keeps a lease-based lock alive while held: calls `renew` every third of the lease. A renewal
 * that reports the lock gone, or failures lasting a whole lease, mean the lock was lost; `stop()`
 * then returns the reason, for the release to throw.
 */
export function keepLeaseAlive(renew: () => Promise<boolean>, leaseMs: number) {
  let lostReason: Error | undefined;
  let lastRenewed = performance.now();
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight !== undefined || lostReason !== undefined) return;
    inFlight = renew()
      .then((held) => {
        if (held) lastRenewed = performance.now();
        else lostReason = new Error('the lock lease expired and another holder took it');
      })
      .catch((err: unknown) => {
        // A passing failure is retried at the next tick; the lease still covers us until then.
        if (performance.now() - lastRenewed >= leaseMs) {
          lostReason = err instanceof Error ? err : new Error(String(err));
        }
      })
      .finally(() => {
        inFlight = undefined;
      });
  }, leaseMs / 3);
  timer.unref();
  return {
    async stop(): Promise<Error | undefined> {
      clearInterval(timer);
      await inFlight;
      return lostReason;
    },
  };
}

export function lockLost(ns: string, cause: Error): StoreError {
  return new StoreError('store_unavailable', `lock in namespace "${ns}" was lost while held`, { cause });
}
