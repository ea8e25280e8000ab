// The opaque tokens that name backends inside balancer cookies: one per backend under each signing key
// (key rotation: the first key signs, every key verifies). Rebuilt when the pool's membership changes, so a
// cookie lookup on the request path is one Map read.

import type { Backend } from '../pool/backend';
import type { BalancerCookieCodec } from './balancer-cookie-codec';

export class BackendTokens {
  /** Per signing key: token → backend. */
  private readonly byKey: Map<string, Backend>[];
  /** Each member's token under the signing (first) key. */
  private readonly signing = new Map<Backend, string>();
  /** Each backend id's tokens under every key, computed once per id (an HMAC each). */
  private readonly cache = new Map<string, string[]>();

  constructor(private readonly codec: BalancerCookieCodec) {
    this.byKey = Array.from({ length: codec.keyCount }, () => new Map());
  }

  /** The pool's members changed: tokens of backends that left are forgotten (autoscaling churns ids). */
  rebuild(members: readonly Backend[]): void {
    for (const map of this.byKey) map.clear();
    this.signing.clear();
    for (const backend of members) {
      const tokens = this.tokensOf(backend.id);
      for (let keyIndex = 0; keyIndex < tokens.length; keyIndex++)
        this.byKey[keyIndex]!.set(tokens[keyIndex]!, backend);
      this.signing.set(backend, tokens[0]!);
    }
    if (this.cache.size > members.length) {
      const ids = new Set(members.map((b) => b.id));
      for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
    }
  }

  /** The member a token names under key `keyIndex`, if any. */
  backendFor(token: string, keyIndex: number): Backend | undefined {
    return this.byKey[keyIndex]?.get(token);
  }

  /** The signing key's token for a backend (a backend that already left gets one computed afresh). */
  tokenFor(backend: Backend): string {
    return this.signing.get(backend) ?? this.codec.backendToken(backend.id, 0);
  }

  private tokensOf(id: string): string[] {
    let tokens = this.cache.get(id);
    if (tokens === undefined) {
      tokens = this.byKey.map((_, keyIndex) => this.codec.backendToken(id, keyIndex));
      this.cache.set(id, tokens);
    }
    return tokens;
  }
}
