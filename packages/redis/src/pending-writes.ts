// Writes that Redis could not take when they were made (still connecting, down, failing over, too slow), kept
// until it answers again. Bounded: past `maxWrites` the oldest write is dropped, since the newest placements
// are the ones clients are still using. One write per key: a later write to a key replaces an earlier one.

export type PendingWrite =
  | { kind: 'set' | 'setIfAbsent'; key: string; value: string; expiresAt: number }
  | { kind: 'delete'; key: string };

export class PendingWrites {
  // A Map iterates in insertion order: the first entry is the oldest write.
  private readonly writes = new Map<string, PendingWrite>();
  /** Writes dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly maxWrites: number) {}

  get size(): number {
    return this.writes.size;
  }

  /** Keeps `write`; false when nothing can be kept (a bound of 0). */
  add(write: PendingWrite): boolean {
    if (this.maxWrites === 0) return false;
    this.writes.delete(write.key);
    while (this.writes.size >= this.maxWrites) {
      const oldest = this.writes.keys().next();
      if (oldest.done) break;
      this.writes.delete(oldest.value);
      this.dropped++;
    }
    this.writes.set(write.key, write);
    return true;
  }

  has(key: string): boolean {
    return this.writes.has(key);
  }

  /** Takes every write out, newest first (the order to send them in). */
  takeNewestFirst(): PendingWrite[] {
    const all = [...this.writes.values()].reverse();
    this.writes.clear();
    return all;
  }

  /**
   * Puts back writes that failed again, as older than anything queued meanwhile (and not over a newer write
   * to the same key).
   */
  putBackOlder(failed: readonly PendingWrite[]): void {
    const newer = [...this.writes.values()];
    const rewritten = new Set(this.writes.keys());
    this.writes.clear();
    for (let i = failed.length - 1; i >= 0; i--) {
      const write = failed[i]!;
      if (!rewritten.has(write.key)) this.writes.set(write.key, write);
    }
    for (const write of newer) this.writes.set(write.key, write);
    while (this.writes.size > this.maxWrites) {
      const oldest = this.writes.keys().next();
      if (oldest.done) break;
      this.writes.delete(oldest.value);
      this.dropped++;
    }
  }
}
