// Upstream deadlines: no response headers within `timeout` of sending an attempt (its body included, however
// slowly the client sends it) is a 504. One interval watches every attempt in flight, instead of a timer
// per request; the engines' own timeouts do not serve (undici's headersTimeout stops while a body is sent).
//
// Requests are dropped into the bucket of the current period (a plain array; the item remembers its slot),
// and a bucket expires as a whole `timeoutMs` after its period closed, so a deadline fires up to two periods
// (a tenth of the timeout) late, as undici's own timeouts fire on a coarse clock. Watching and unwatching
// cost an array push and a store. Two cheaper-looking designs measured worse under load (test/bench/ab.js):
// a timer per request allocates and links a Timeout every request, and a Map keyed by the request kept
// requests alive into the old generation (every scavenge promoted megabytes, and full collections followed).

export const kBucket = Symbol('stickyroute.deadlineBucket');
export const kSlot = Symbol('stickyroute.deadlineSlot');

/** The two slots a watched item gets: an item class that declares them in its constructor keeps one shape. */
export type Watched = { [kBucket]?: Bucket<Watched> | undefined; [kSlot]?: number };
type Bucket<T> = (T | undefined)[];

/** Watches deadlines of `timeoutMs` from `watch()`; calls `expired(item)` once for each one not met. */
export class UpstreamDeadlines<T extends object> {
  private readonly periodMs: number;
  /** Items watched during the current period. */
  private open: Bucket<T> = [];
  /** Closed periods, oldest first, with the time their items expire; only items still watched are kept. */
  private readonly closed: { due: number; items: Bucket<T> }[] = [];
  private interval: NodeJS.Timeout | undefined;
  private watching = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly expired: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.periodMs = Math.max(1, Math.min(1000, Math.ceil(timeoutMs / 20)));
  }

  /** Starts (or restarts, for a retry) the item's deadline. */
  watch(item: T): void {
    this.unwatch(item);
    const watched = item as Watched;
    watched[kBucket] = this.open as Bucket<Watched>;
    watched[kSlot] = this.open.push(item) - 1;
    this.watching++;
    if (this.interval === undefined) {
      this.interval = setInterval(() => this.tick(), this.periodMs);
      this.interval.unref(); // requests in flight keep the process alive by their sockets, not by this
    }
  }

  /** The item met its deadline (or is over): stop watching it. */
  unwatch(item: T): void {
    const watched = item as Watched;
    const bucket = watched[kBucket];
    if (bucket === undefined) return;
    bucket[watched[kSlot]!] = undefined;
    watched[kBucket] = undefined;
    this.watching--;
  }

  /** How many items are watched (for tests and leak checks). */
  get size(): number {
    return this.watching;
  }

  /** Stops the interval; items still watched never expire. */
  close(): void {
    clearInterval(this.interval);
    this.interval = undefined;
    for (const { items } of this.closed) for (const item of items) if (item) this.unwatch(item);
    for (const item of this.open) if (item) this.unwatch(item);
    this.closed.length = 0;
    this.open = [];
  }

  /**
   * The period is over: its items (those still watched) get their deadline, and every bucket past its
   * deadline expires. Called by the interval; tests with a fake clock call it directly.
   */
  tick(): void {
    const now = this.now();
    const survivors = this.compact(this.open);
    if (survivors.length > 0) this.closed.push({ due: now + this.timeoutMs, items: survivors });
    this.open = [];
    while (this.closed.length > 0 && this.closed[0]!.due <= now) {
      for (const item of this.closed.shift()!.items) {
        if (item === undefined) continue;
        this.unwatch(item);
        this.expired(item);
      }
    }
    if (this.watching === 0) {
      clearInterval(this.interval);
      this.interval = undefined;
      this.closed.length = 0;
    }
  }

  /** The bucket's items still watched, in a new array of their own (most requests are over by now). */
  private compact(bucket: Bucket<T>): Bucket<T> {
    const kept: Bucket<T> = [];
    for (const item of bucket) {
      if (item === undefined) continue;
      const watched = item as Watched;
      watched[kBucket] = kept as Bucket<Watched>;
      watched[kSlot] = kept.push(item) - 1;
    }
    return kept;
  }
}
