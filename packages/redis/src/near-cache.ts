// A gateway's own bounded copy of the entries it wrote to or read from Redis, each kept no longer than Redis
// keeps it. It answers when Redis cannot (down, failing over, too slow), and it is what a gateway writes back
// when Redis comes back without them (a restart without persistence, a failover that lost the last writes).
// Least recently used entries go first when full, as in the core's memory store.

interface NearEntry {
  value: string;
  expiresAt: number;
}

export class NearCache {
  private readonly entries = new Map<string, NearEntry>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live value for `key`; with `slideMs`, its expiry slides as a sliding Redis entry's would. */
  get(key: string, slideMs?: number): string | undefined {
    return this.lookup(key, slideMs)?.value;
  }

  /** `get`, with the time the entry has left. */
  lookup(key: string, slideMs?: number): { value: string; ttlMs: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserting marks it most recently used.
    this.entries.delete(key);
    if (slideMs !== undefined) entry.expiresAt = now + slideMs;
    this.entries.set(key, entry);
    return { value: entry.value, ttlMs: entry.expiresAt - now };
  }

  /** Remembers `value` for `ttlMs` (what Redis holds it for, or less). A non-positive TTL forgets the key. */
  set(key: string, value: string, ttlMs: number): void {
    this.entries.delete(key);
    if (this.maxEntries === 0 || !(ttlMs > 0)) return;
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** The live entries, most recently used first, with the time each has left. */
  *live(): Generator<{ key: string; value: string; ttlMs: number }> {
    const now = this.now();
    const all = [...this.entries];
    for (let i = all.length - 1; i >= 0; i--) {
      const [key, entry] = all[i]!;
      if (entry.expiresAt > now) yield { key, value: entry.value, ttlMs: entry.expiresAt - now };
    }
  }
}
