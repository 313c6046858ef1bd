/**
 * A short-lived memory of access tokens this process has just verified, so a busy MCP session
 * costs one hash and one Map lookup per request instead of a store read (docs/decisions/0021).
 *
 * - Keyed by the token's SHA-256, like the store; holds what the successful check answered (the
 *   grant record as read, the token's scopes and expiry). Failures are not remembered.
 * - An entry is used for at most `ttlMs`, and never past the token's own expiry.
 * - Every write to a grant in this process (rotation, revocation, reuse detection) forgets the
 *   grant's entries once written, and a check whose store read spanned a write is not
 *   remembered, so revocation through this process takes effect at once. Another
 *   process sharing the store sees a revocation within `ttlMs` (RFC 7662 §4 allows a resource
 *   server this kind of short cache).
 * - Bounded: past `maxEntries` the oldest entries go (Map order is insertion order).
 */
interface Entry<V> {
  grantId: string;
  check: V;
  until: number;
}

/** `V`: what a successful check answered, with the token's own expiry. */
export class AccessTokenCache<V extends { expiresAt: number }> {
  readonly #byHash = new Map<string, Entry<V>>();
  /** The hashes remembered for each grant (a grant has at most two live access tokens). */
  readonly #byGrant = new Map<string, string[]>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  /** Bumped by every grant write: a check that read the store across a write is not remembered. */
  #epoch = 0;

  constructor(ttlSeconds: number, maxEntries = 10_000) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#maxEntries = maxEntries;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** Take before reading the store; pass to `set` with what was read. */
  get epoch(): number {
    return this.#epoch;
  }

  get(hash: string, now: number): V | undefined {
    const entry = this.#byHash.get(hash);
    if (!entry) return undefined;
    if (entry.until > now) return entry.check;
    this.#delete(hash, entry.grantId);
    return undefined;
  }

  set(hash: string, grantId: string, check: V, now: number, epoch: number): void {
    if (!this.enabled || epoch !== this.#epoch) return;
    const known = this.#byHash.get(hash);
    if (known) this.#delete(hash, known.grantId);
    while (this.#byHash.size >= this.#maxEntries) {
      const [oldest, entry] = this.#byHash.entries().next().value as [string, Entry<V>];
      this.#delete(oldest, entry.grantId);
    }
    this.#byHash.set(hash, { grantId, check, until: Math.min(now + this.#ttlMs, check.expiresAt) });
    const hashes = this.#byGrant.get(grantId);
    if (hashes) hashes.push(hash);
    else this.#byGrant.set(grantId, [hash]);
  }

  /** Forgets every entry of `grantId` (called after every write to the grant). */
  forgetGrant(grantId: string): void {
    this.#epoch++;
    const hashes = this.#byGrant.get(grantId);
    if (!hashes) return;
    this.#byGrant.delete(grantId);
    for (const hash of hashes) this.#byHash.delete(hash);
  }

  get size(): number {
    return this.#byHash.size;
  }

  #delete(hash: string, grantId: string): void {
    this.#byHash.delete(hash);
    const hashes = this.#byGrant.get(grantId);
    if (!hashes) return;
    const rest = hashes.filter((h) => h !== hash);
    if (rest.length) this.#byGrant.set(grantId, rest);
    else this.#byGrant.delete(grantId);
  }
}
