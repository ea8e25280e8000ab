// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2016; HAProxy's hash-balance-factor):
// a key goes to the first backend clockwise from its hash that accepts new clients and whose in-flight load
// is under 1.25× its weighted fair share. Removing a backend moves only its keys; adding one moves ~1/n.
// The ring holds every member and is rebuilt only when membership changes: a backend that goes down or
// drains is skipped while walking, so its keys come back to it when it returns.

import type { Backend } from '../pool/backend';
import { type Balancer, eligible } from './balancer';
import { fnv1aPrefix, hash32, hash32Numbered } from './hash32';

/** Ring points per unit of weight: enough for an even spread, few enough to rebuild 10,000 backends fast. */
export const POINTS_PER_WEIGHT = 100;
export const LOAD_FACTOR = 1.25;

export class HashRing {
  private points = new Uint32Array(0);
  private owners: Backend[] = [];

  /** `load` is the pool's live totals, read at each lookup (kept by the pool, so a lookup stays O(log n)). */
  constructor(private readonly load: { active: number; acceptingWeight: number }) {}

  /** Rebuilds the ring for a new membership. O(P log P) in the number of points. */
  rebuild(members: readonly Backend[]): void {
    let count = 0;
    for (const b of members) count += b.weight * POINTS_PER_WEIGHT;
    const hashes = new Uint32Array(count);
    const ownerOf: Backend[] = new Array(count);
    let k = 0;
    for (const b of members) {
      // Point i of backend b sits at hash32(`${b.id}#${i}`); the id's prefix is hashed once per backend.
      const prefix = fnv1aPrefix(`${b.id}#`);
      for (let i = 0; i < b.weight * POINTS_PER_WEIGHT; i++) {
        hashes[k] = hash32Numbered(prefix, i);
        ownerOf[k] = b;
        k++;
      }
    }
    const order = sortedByHash(hashes);
    const points = new Uint32Array(count);
    const owners: Backend[] = new Array(count);
    for (let i = 0; i < count; i++) {
      points[i] = hashes[order[i]!]!;
      owners[i] = ownerOf[order[i]!]!;
    }
    // Equal hashes (a few per million points) are ordered by owner id, so every gateway builds the same ring
    // whatever order its backends were added in.
    for (let start = 0, end = 1; end <= count; end++) {
      if (end < count && points[end] === points[start]) continue;
      if (end - start > 1) {
        const run = owners.slice(start, end).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
        for (let i = start; i < end; i++) owners[i] = run[i - start]!;
      }
      start = end;
    }
    this.points = points;
    this.owners = owners;
  }

  /** Index of the first point at or after `h` (wrapping to 0). */
  private first(h: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }

  /**
   * The backend for `key`: the first eligible one clockwise whose load is under its bound.
   * With `bounded` false the load is ignored (the pure ring, used to measure movement).
   */
  lookup(key: string, exclude?: ReadonlySet<string>, bounded = true): Backend | null {
    const n = this.points.length;
    if (n === 0) return null;
    const perWeight = bounded
      ? (LOAD_FACTOR * (this.load.active + 1)) / Math.max(this.load.acceptingWeight, 1)
      : 0;
    let fallback: Backend | null = null;
    for (let i = this.first(hash32(key)), walked = 0; walked < n; walked++, i = i + 1 === n ? 0 : i + 1) {
      const backend = this.owners[i]!;
      if (!eligible(backend, exclude)) continue;
      if (!bounded || backend.active < Math.ceil(perWeight * backend.weight)) return backend;
      fallback ??= backend;
    }
    return fallback;
  }
}

/** Up to 2^21 points, a point is packed as hash·2^21 + index into one double (≤ 53 bits), so the engine's
 * numeric sort orders them without a comparator: at 10,000 backends ~10× faster than sorting with one. */
const PACK = 2 ** 21;

/** Indexes of `hashes` in ascending hash order (ties by index). */
function sortedByHash(hashes: Uint32Array): Uint32Array {
  const count = hashes.length;
  const order = new Uint32Array(count);
  if (count <= PACK) {
    const packed = new Float64Array(count);
    for (let k = 0; k < count; k++) packed[k] = hashes[k]! * PACK + k;
    packed.sort();
    for (let i = 0; i < count; i++) order[i] = packed[i]! % PACK;
    return order;
  }
  for (let k = 0; k < count; k++) order[k] = k;
  return order.sort((x, y) => hashes[x]! - hashes[y]! || x - y);
}

/** `algorithm: 'source-ip-hash'`: new clients placed by consistent hashing of their IP. */
export class ConsistentHashBalancer implements Balancer {
  constructor(private readonly ring: HashRing) {}

  update(): void {
    // The ring is owned by the router and rebuilt on membership changes only.
  }

  pick(key: string, exclude?: ReadonlySet<string>): Backend | null {
    return this.ring.lookup(key, exclude);
  }
}
