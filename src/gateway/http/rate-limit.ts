/**
 * Token-bucket rate limits, in memory (per process: N replicas allow N× the rate; a shared
 * limiter would go through Redis). Keys are `ip:<addr>` and `client:<id>` per endpoint.
 * The number of tracked keys is bounded so a flood of distinct keys cannot exhaust memory.
 */
export interface RateLimitRule {
  burst: number;
  perMinute: number;
}

export interface RateLimitDecision {
  ok: boolean;
  /** Whole seconds until one request is allowed again (0 when ok). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBucketLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => number;
  readonly #maxKeys: number;

  constructor(clock: () => number, maxKeys = 50_000) {
    this.#clock = clock;
    this.#maxKeys = maxKeys;
  }

  /** Takes one token from `key`'s bucket under `rule`. */
  take(key: string, rule: RateLimitRule): RateLimitDecision {
    const now = this.#clock();
    const ratePerMs = rule.perMinute / 60_000;
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(rule.burst, bucket.tokens + (now - bucket.updatedAt) * ratePerMs);
      bucket.updatedAt = now;
      this.#buckets.delete(key); // re-insert: Map order doubles as least-recently-used order
    } else {
      bucket = { tokens: rule.burst, updatedAt: now };
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true, retryAfterSeconds: 0 };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
  }
}
