// The tokens that name backends inside balancer cookies: every key's token finds its member, a token of a
// backend that left finds nothing (and comes back with it), and the per-id cache holds the members only, so
// autoscaling that churns backend ids does not grow it.

import { Backend } from '../pool/backend';
import { BackendTokens } from './backend-tokens';
import { BalancerCookieCodec } from './balancer-cookie-codec';

const codec = new BalancerCookieCodec(['new-signing-key-0123456789', 'old-key-still-verifies-0123']);
const backend = (id: string) => new Backend(id, new URL(`http://${id}.internal:8080`), 1, 0);

/** The per-id token cache, read for its size only: nothing else shows how much it holds. */
const cached = (tokens: BackendTokens) => (tokens as unknown as { cache: Map<string, string[]> }).cache;

describe('BackendTokens', () => {
  it("finds each member by its token under every key, and signs with the first key's", () => {
    const tokens = new BackendTokens(codec);
    const [a, b] = [backend('a'), backend('b')];
    tokens.rebuild([a, b]);
    for (const [keyIndex, member] of [
      [0, a],
      [1, a],
      [0, b],
      [1, b],
    ] as const)
      expect(tokens.backendFor(codec.backendToken(member.id, keyIndex), keyIndex)).toBe(member);
    // A token is valid only under the key that made it.
    expect(tokens.backendFor(codec.backendToken('a', 1), 0)).toBeUndefined();
    expect(tokens.tokenFor(a)).toBe(codec.backendToken('a', 0));
    // A key the codec does not have finds nothing rather than throwing.
    expect(tokens.backendFor(codec.backendToken('a', 0), 2)).toBeUndefined();
  });

  it('a backend that left is found no more, and is again when it returns; its token is still made', () => {
    const tokens = new BackendTokens(codec);
    const [a, b] = [backend('a'), backend('b')];
    tokens.rebuild([a, b]);
    tokens.rebuild([a]);
    expect(tokens.backendFor(codec.backendToken('b', 0), 0)).toBeUndefined();
    expect(tokens.tokenFor(b)).toBe(codec.backendToken('b', 0));
    tokens.rebuild([a, b]);
    expect(tokens.backendFor(codec.backendToken('b', 0), 0)).toBe(b);
  });

  it('keeps cached tokens for the members only', () => {
    const tokens = new BackendTokens(codec);
    tokens.rebuild(['a', 'b', 'c'].map(backend));
    expect([...cached(tokens).keys()]).toEqual(['a', 'b', 'c']);
    tokens.rebuild(['c', 'd'].map(backend));
    expect([...cached(tokens).keys()]).toEqual(['c', 'd']);
    tokens.rebuild(['c', 'd'].map(backend));
    expect(cached(tokens).size).toBe(2);
  });
});
