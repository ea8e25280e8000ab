// A fast, well-mixed 32-bit string hash (FNV-1a followed by murmur3's finalizer) for the hash ring.
// Not cryptographic: ring positions are not secrets, and keys (IPs, API keys) are not chosen by us.

// Bound once: inside a vm context (jest, sandboxes) every `Math` lookup goes through the global proxy and
// costs ~40× more, which made 100,000 ring lookups take a second instead of a few milliseconds.
const imul = Math.imul;
const floor = Math.floor;

const FNV_OFFSET = 0x811c9dc5;

export function hash32(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a state after `prefix`, not finalized: for hashing many strings that share it (ring points). */
export function fnv1aPrefix(prefix: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < prefix.length; i++) {
    h ^= prefix.charCodeAt(i);
    h = imul(h, 0x01000193);
  }
  return h;
}

/** hash32(prefix + String(n)) for an integer n ≥ 0, from fnv1aPrefix(prefix), without building the string. */
export function hash32Numbered(prefixState: number, n: number): number {
  let h = feedDigits(prefixState, n);
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function feedDigits(h: number, n: number): number {
  if (n >= 10) h = feedDigits(h, floor(n / 10));
  h ^= 48 + (n % 10);
  return imul(h, 0x01000193);
}
