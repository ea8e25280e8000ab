// A fast, well-mixed 32-bit string hash (FNV-1a followed by murmur3's finalizer) for the hash ring.
// Not cryptographic: ring positions are not secrets, and keys (IPs, API keys) are not chosen by us.

// Bound once: inside a vm context (jest, sandboxes) every `Math` lookup goes through the global proxy and
// costs ~40× more, which made 100,000 ring lookups take a second instead of a few milliseconds.
const imul = Math.imul;

export function hash32(text: string): number {
  let h = 0x811c9dc5;
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
