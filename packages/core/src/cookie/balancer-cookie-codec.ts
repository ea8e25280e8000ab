// The balancer cookie's value: opaque, signed, self-dating.
//
//   <backend token>.<expires, base36 epoch s>.<born, base36 epoch s>.<HMAC-SHA256, 16 bytes base64url>
//
// The backend token is an HMAC of the backend's id under the key, so the value names no address and a
// client cannot pick a backend; `expires` is checked on the server (0: none inside, for a session cookie
// that follows a session app cookie: readers bound it by `born`), `born` is when it was first issued
// (lb-cookie, for maxLifetime) or last issued (follow mode). The first secret signs,
// every secret verifies (rotation). Verified values are remembered in a small bounded cache: all clients
// on one backend within the same second share one value, so a returning client costs no HMAC at all and
// memory does not grow per client.
//
// Which mode minted a value is part of what is signed, not of the value: follow mode's HMAC input starts
// with a label of its own. A reader thus knows whose dates it reads (lb-cookie's `born` is the first issue,
// follow mode's the last) and holds the value to its own bounds, and no value can pass for the other kind.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Which mode minted a value: `lb` (lb-cookie, and any value signed before kinds existed) or `follow`. */
export type CookieKind = 'lb' | 'follow';

const FOLLOW_LABEL = 'follow\0';

export interface DecodedCookie {
  /** Which secret verified it (0 = the signing key). */
  keyIndex: number;
  kind: CookieKind;
  token: string;
  /** Epoch seconds; 0 means no expiry inside the value. */
  expires: number;
  born: number;
}

const MAX_VALUE_LENGTH = 128;
const CACHE_SIZE = 4096;
/** lastIssued holds one entry per backend token, so it is sized for pools, not for clients. */
const TOKEN_CACHE_SIZE = 65_536;
const PART = /^[0-9a-z]{1,11}$/;
const KINDS: readonly CookieKind[] = ['lb', 'follow'];
const KINDS_FOLLOW_FIRST: readonly CookieKind[] = ['follow', 'lb'];

export class BalancerCookieCodec {
  private readonly keys: Buffer[];
  private readonly verified = new Map<string, DecodedCookie>();
  private readonly issued = new Map<string, string>();
  /** The last value issued per token: the next client on that backend within the second gets it at once. */
  private readonly lastIssued = new Map<
    string,
    { expires: number; born: number; kind: CookieKind; value: string }
  >();

  constructor(secrets: readonly string[]) {
    this.keys = secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  get keyCount(): number {
    return this.keys.length;
  }

  /** The opaque token that names a backend under key `keyIndex`. Stable across gateways sharing the secret. */
  backendToken(backendId: string, keyIndex = 0): string {
    return createHmac('sha256', this.keys[keyIndex]!)
      .update(`backend\0${backendId}`)
      .digest('base64url')
      .slice(0, 12);
  }

  /** A signed value for `token` (the signing key's token) with the given dates (epoch seconds). */
  encode(token: string, expires: number, born: number, kind: CookieKind = 'lb'): string {
    const last = this.lastIssued.get(token);
    if (last !== undefined && last.expires === expires && last.born === born && last.kind === kind)
      return last.value;
    const payload = `${token}.${expires.toString(36)}.${born.toString(36)}`;
    const key = kind === 'lb' ? payload : FOLLOW_LABEL + payload;
    let value = this.issued.get(key);
    if (value === undefined) {
      value = `${payload}.${this.sign(0, key)}`;
      remember(this.issued, key, value);
      // A value this gateway signed needs no HMAC when its client sends it back.
      remember(this.verified, value, { keyIndex: 0, kind, token, expires, born });
    }
    if (last === undefined)
      remember(this.lastIssued, token, { expires, born, kind, value }, TOKEN_CACHE_SIZE);
    else {
      last.expires = expires;
      last.born = born;
      last.kind = kind;
      last.value = value;
    }
    return value;
  }

  /**
   * The verified content of a value, or null for anything forged, malformed or oversized. Never throws.
   * `likely` is the kind tried first (the reader's own): a value of the other kind costs a second HMAC once.
   */
  decode(value: string, likely: CookieKind = 'lb'): DecodedCookie | null {
    const hit = this.verified.get(value);
    if (hit !== undefined) return hit;
    if (value.length > MAX_VALUE_LENGTH) return null;
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return null;
    const payload = value.slice(0, dot);
    const signature = value.slice(dot + 1);
    const parts = payload.split('.');
    if (parts.length !== 3 || !PART.test(parts[1]!) || !PART.test(parts[2]!)) return null;
    const given = Buffer.from(signature, 'utf8');
    for (const kind of likely === 'lb' ? KINDS : KINDS_FOLLOW_FIRST) {
      const signed = kind === 'lb' ? payload : FOLLOW_LABEL + payload;
      for (let keyIndex = 0; keyIndex < this.keys.length; keyIndex++) {
        const expected = Buffer.from(this.sign(keyIndex, signed), 'utf8');
        if (expected.length === given.length && timingSafeEqual(expected, given)) {
          const decoded: DecodedCookie = {
            keyIndex,
            kind,
            token: parts[0]!,
            expires: Number.parseInt(parts[1]!, 36),
            born: Number.parseInt(parts[2]!, 36),
          };
          remember(this.verified, value, decoded);
          return decoded;
        }
      }
    }
    return null;
  }

  private sign(keyIndex: number, payload: string): string {
    return createHmac('sha256', this.keys[keyIndex]!)
      .update(payload)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }
}

/**
 * Bounded cache: emptied when full. (Evicting the oldest entry one at a time via `keys().next()` costs
 * microseconds per insert in V8 once deleted slots pile up at the front of the table: measured 5.6 µs.)
 */
function remember<V>(cache: Map<string, V>, key: string, value: V, size = CACHE_SIZE): void {
  if (cache.size >= size) cache.clear();
  cache.set(key, value);
}
