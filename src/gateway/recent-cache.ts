/**
 * A short-lived, bounded memory of answers this process has just read from the store, used where
 * the gateway would otherwise read (and decode) the same record on every MCP request:
 * verified access tokens (`tokens/grants.ts`, docs/decisions/0021) and a login's fresh upstream
 * IdP token (`upstream/logins.ts`).
 *
 * - Entries are keyed (a token's SHA-256, a login id) and belong to a group (the grant, the
 *   login): every write to a group's record in this process forgets the group, so it takes effect
 *   here at once. An answer whose store read spanned such a write is not remembered (the epoch).
 *   Another process sharing the store sees the write within `ttlSeconds` (RFC 7662 §4 allows a
 *   resource server this kind of short cache).
 * - An entry is used for at most `ttlSeconds`, and never past the value's own `expiresAt`.
 * - Bounded: past `maxEntries` the oldest entries go (Map order is insertion order).
 */
interface Entry<V> {
  group: string;
  value: V;
  until: number;
}

/** `V`: a remembered answer, with the time (epoch ms) after which it must not be used. */
export class RecentCache<V extends { expiresAt: number }> {
  readonly #byKey = new Map<string, Entry<V>>();
  /** The keys remembered for each group (a grant has at most two live access tokens). */
  readonly #byGroup = new Map<string, string[]>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  /** Bumped by every `forget`: an answer read across a write is not remembered. */
  #epoch = 0;

  /** `ttlSeconds` 0: remember nothing. */
  constructor(ttlSeconds: number, maxEntries = 10_000) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#maxEntries = maxEntries;
  }

  /** Take before reading the store; pass to `set` with what was read. */
  get epoch(): number {
    return this.#epoch;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#byKey.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return entry.value;
    this.#delete(key, entry.group);
    return undefined;
  }

  set(key: string, group: string, value: V, now: number, epoch: number): void {
    if (this.#ttlMs <= 0 || epoch !== this.#epoch) return;
    const known = this.#byKey.get(key);
    if (known) this.#delete(key, known.group);
    while (this.#byKey.size >= this.#maxEntries) {
      const [oldest, entry] = this.#byKey.entries().next().value as [string, Entry<V>];
      this.#delete(oldest, entry.group);
    }
    this.#byKey.set(key, { group, value, until: Math.min(now + this.#ttlMs, value.expiresAt) });
    const keys = this.#byGroup.get(group);
    if (keys) keys.push(key);
    else this.#byGroup.set(group, [key]);
  }

  /** Forgets every entry of `group` (called after every write to the group's record). */
  forget(group: string): void {
    this.#epoch++;
    const keys = this.#byGroup.get(group);
    if (!keys) return;
    this.#byGroup.delete(group);
    for (const key of keys) this.#byKey.delete(key);
  }

  #delete(key: string, group: string): void {
    this.#byKey.delete(key);
    const keys = this.#byGroup.get(group);
    if (!keys) return;
    const rest = keys.filter((k) => k !== key);
    if (rest.length) this.#byGroup.set(group, rest);
    else this.#byGroup.delete(group);
  }
}
