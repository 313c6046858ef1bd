/**
 * Reconnection timing for SSE streams: the server's `retry:` when it gave one (HTML §9.2.6,
 * SEP-1699), else an exponential backoff; and an abortable sleep.
 */
export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  growFactor?: number;
  /** Consecutive failed attempts before giving up on a stream. */
  maxRetries?: number;
}

export function reconnectDelay(
  opts: ReconnectOptions | undefined,
  attempt: number,
  serverRetryMs?: number,
): number {
  // SEP-1699 / HTML §9.2.6: the server's `retry:` wins over our own backoff.
  if (serverRetryMs !== undefined) return serverRetryMs;
  const initial = opts?.initialDelayMs ?? 1000;
  const max = opts?.maxDelayMs ?? 30_000;
  const grow = opts?.growFactor ?? 1.5;
  return Math.min(initial * grow ** attempt, max);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
