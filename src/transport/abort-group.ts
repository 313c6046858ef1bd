/**
 * Aborting many exchanges at once (on close, or when a session ends) without one long-lived
 * signal that every fetch listens to: undici drops a fetch's abort listener only when its Request
 * is garbage-collected, so on a shared signal thousands pile up and each new one costs more
 * (the SDK's transport shows it as MaxListenersExceededWarning). Each exchange gets its own
 * controller instead; a group remembers the live ones.
 */
export class AbortGroup {
  private readonly members = new Set<AbortController>();
  private abortedWith: { reason: unknown } | undefined;

  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  abort(reason?: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    for (const c of this.members) c.abort(reason);
    this.members.clear();
  }

  /** @internal */
  attach(c: AbortController): void {
    if (this.abortedWith) c.abort(this.abortedWith.reason);
    else this.members.add(c);
  }

  /** @internal */
  detach(c: AbortController): void {
    this.members.delete(c);
  }
}

export interface Exchange {
  readonly signal: AbortSignal;
  /** Aborts this exchange only. */
  abort(): void;
  /** The exchange is over: leave the groups (idempotent). */
  release(): void;
}

/** A controller for one exchange, aborted when any of `groups` is. */
export function exchange(...groups: AbortGroup[]): Exchange {
  const c = new AbortController();
  for (const g of groups) g.attach(c);
  return {
    signal: c.signal,
    abort: () => c.abort(),
    release: () => {
      for (const g of groups) g.detach(c);
    },
  };
}
