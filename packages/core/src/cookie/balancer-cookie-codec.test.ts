// The balancer cookie's value: opaque (names no address), HMAC-signed (any change is rejected), key
// rotation (first secret signs, all verify), and garbage of any kind rejected without throwing.

import fc from 'fast-check';
import { createStickyRouter } from '../router';
import { FakeClock } from '../testing/fake-clock';
import { cookiePair, request, withCookie } from '../testing/requests';
import { steps } from '../testing/router-steps';
import { withTestHooks } from '../testing-hooks';
import { BalancerCookieCodec } from './balancer-cookie-codec';

const OLD = 'old-secret-0123456789abcdef';
const NEW = 'new-secret-fedcba9876543210';
const NOW_S = 1_735_732_800; // 2025-01-01T12:00:00Z, the FakeClock's start

const BACKENDS = [
  { url: 'http://10.0.0.1:8080', weight: 1 },
  { url: 'https://app-server-7.internal.example:9443', weight: 1 },
  { url: 'http://[2001:db8::42]:3000', weight: 1 },
];

/** A valid cookie value as the codec issues it. */
function sample(codec = new BalancerCookieCodec([OLD]), id = 'http://10.0.0.1:8080'): string {
  return codec.encode(codec.backendToken(id), NOW_S + 1200, NOW_S);
}

describe('BalancerCookieCodec', () => {
  it('round-trips a value and names the signing key', () => {
    const codec = new BalancerCookieCodec([OLD]);
    const token = codec.backendToken('b1');
    const value = codec.encode(token, NOW_S + 1200, NOW_S);
    expect(value).toMatch(/^[A-Za-z0-9_-]{12}\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    expect(codec.decode(value)).toEqual({
      keyIndex: 0,
      kind: 'lb',
      token,
      expires: NOW_S + 1200,
      born: NOW_S,
    });
    // Decoding twice (the cache) answers the same.
    expect(codec.decode(value)).toEqual(codec.decode(value));
    expect(codec.keyCount).toBe(1);
  });

  it('signs which mode minted a value: same format, another signature, and no value passes for the other kind', () => {
    const codec = new BalancerCookieCodec([OLD, NEW]);
    const token = codec.backendToken('b1');
    const lb = codec.encode(token, NOW_S + 1200, NOW_S);
    const follow = codec.encode(token, NOW_S + 1200, NOW_S, 'follow');
    expect(follow).toMatch(/^[A-Za-z0-9_-]{12}\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
    expect(follow.slice(0, follow.lastIndexOf('.'))).toBe(lb.slice(0, lb.lastIndexOf('.')));
    expect(follow).not.toBe(lb);
    // Read by fresh codecs (no cache), whichever kind is tried first, and by the rotated-out key too.
    for (const likely of ['lb', 'follow'] as const) {
      expect(new BalancerCookieCodec([OLD]).decode(follow, likely)).toMatchObject({ kind: 'follow' });
      expect(new BalancerCookieCodec([NEW, OLD]).decode(lb, likely)).toMatchObject({
        kind: 'lb',
        keyIndex: 1,
      });
    }
    expect(new BalancerCookieCodec([NEW]).decode(follow, 'follow')).toBeNull();
    // Encoding one kind after the other for the same dates answers each its own value.
    expect(codec.encode(token, NOW_S + 1200, NOW_S)).toBe(lb);
    expect(codec.encode(token, NOW_S + 1200, NOW_S, 'follow')).toBe(follow);
  });

  it('is opaque: no URL, host, port or id of any backend can be read from the value', async () => {
    const router = createStickyRouter(
      withTestHooks(
        {
          backends: BACKENDS,
          stickiness: { type: 'lb-cookie' },
          secret: OLD,
        },
        { clock: new FakeClock() },
      ),
    );
    const seen = new Set<string>();
    for (let i = 0; i < BACKENDS.length; i++) {
      const route = await router.route(request());
      const value = cookiePair(steps(router).responseCookies(route)).slice('STICKY='.length);
      seen.add(route.backend!.id);
      for (const fragment of [
        '10.0.0.1',
        '8080',
        'app-server',
        'internal',
        'example',
        '9443',
        '2001',
        'db8',
        '3000',
        'http',
        'base',
      ]) {
        expect(value).not.toContain(fragment);
      }
      for (const b of BACKENDS) {
        expect(value).not.toContain(Buffer.from(b.url).toString('base64url').slice(0, 8));
        expect(value).not.toContain(Buffer.from(new URL(b.url).host).toString('hex').slice(0, 8));
      }
    }
    expect(seen.size).toBe(3);
  });

  it('tokens differ per backend and per secret, and are stable across instances sharing the secret', () => {
    const a = new BalancerCookieCodec([OLD]);
    const b = new BalancerCookieCodec([OLD]);
    expect(a.backendToken('x')).toBe(b.backendToken('x'));
    expect(a.backendToken('x')).not.toBe(a.backendToken('y'));
    expect(a.backendToken('x')).not.toBe(new BalancerCookieCodec([NEW]).backendToken('x'));
  });

  it('rejects a value signed with another secret', () => {
    expect(new BalancerCookieCodec([NEW]).decode(sample())).toBeNull();
  });

  it('rotates keys: the first secret signs, every secret verifies, a removed secret no longer does', () => {
    const before = new BalancerCookieCodec([OLD]);
    const during = new BalancerCookieCodec([NEW, OLD]);
    const after = new BalancerCookieCodec([NEW]);
    const oldValue = sample(before);
    expect(during.decode(oldValue)).toMatchObject({
      keyIndex: 1,
      token: before.backendToken('http://10.0.0.1:8080'),
    });
    const newValue = during.encode(during.backendToken('b'), NOW_S + 60, NOW_S);
    expect(during.decode(newValue)).toMatchObject({ keyIndex: 0 });
    expect(after.decode(newValue)).toMatchObject({ keyIndex: 0 });
    expect(before.decode(newValue)).toBeNull();
    expect(after.decode(oldValue)).toBeNull();
  });

  it('rotates keys through the router: an old cookie still sticks, then a fresh one is signed with the new key', async () => {
    const clock = new FakeClock();
    const backends = BACKENDS.map((b) => b.url);
    const oldRouter = createStickyRouter(
      withTestHooks({ backends, stickiness: { type: 'lb-cookie' }, secret: OLD }, { clock }),
    );
    const first = await oldRouter.route(request());
    const oldCookie = cookiePair(steps(oldRouter).responseCookies(first));

    const rotating = createStickyRouter(
      withTestHooks(
        {
          backends,
          stickiness: { type: 'lb-cookie' },
          secret: [NEW, OLD],
        },
        { clock },
      ),
    );
    // Move the round robin on so a fresh client would land elsewhere.
    await rotating.route(request());
    const again = await rotating.route(withCookie(oldCookie));
    expect(again.reason).toBe('sticky');
    expect(again.backend!.id).toBe(first.backend!.id);
    const newCookie = cookiePair(steps(rotating).responseCookies(again));
    expect(newCookie).not.toBe(oldCookie);
    expect(new BalancerCookieCodec([NEW]).decode(newCookie.slice(7))).not.toBeNull();

    const rotated = createStickyRouter(
      withTestHooks({ backends, stickiness: { type: 'lb-cookie' }, secret: [NEW] }, { clock }),
    );
    const withNew = await rotated.route(withCookie(newCookie));
    expect(withNew).toMatchObject({ reason: 'sticky', backend: { id: first.backend!.id } });
    const withOld = await rotated.route(withCookie(oldCookie));
    expect(withOld.reason).toBe('new');
    expect(rotated.stats().requests.forgedCookies).toBe(1);
  });

  it('rejects malformed values', () => {
    const codec = new BalancerCookieCodec([OLD]);
    const valid = sample(codec);
    const [token, expires, born, sig] = valid.split('.') as [string, string, string, string];
    for (const value of [
      '',
      '.',
      '...',
      valid.replace(/\./g, ''),
      `${token}.${expires}.${born}`,
      `${token}.${expires}.${sig}`,
      `${token}.${expires.toUpperCase()}.${born}.${sig}`,
      `${token}.${expires}.${born}.${sig}.${sig}`,
      `.${expires}.${born}.${sig}`,
      `${token}.-1.${born}.${sig}`,
      `${token}..${born}.${sig}`,
      `${valid} `,
      valid + 'x'.repeat(200),
      'x'.repeat(100_000),
    ]) {
      expect(codec.decode(value)).toBeNull();
    }
  });

  it('property: any single-character change, insertion, deletion or truncation of a valid value is rejected', () => {
    const codec = new BalancerCookieCodec([OLD, NEW]);
    const valid = fc
      .record({
        id: fc.string({ minLength: 1, maxLength: 40 }),
        expires: fc.integer({ min: 0, max: 2 ** 40 }),
        born: fc.integer({ min: 0, max: 2 ** 40 }),
      })
      .map(({ id, expires, born }) => codec.encode(codec.backendToken(id), expires, born));
    const anyChar = fc.oneof(
      fc.constantFrom('.', '-', '_', '0', 'a', 'A', 'z', '=', ' ', '%'),
      fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
    );
    const edit = fc.oneof(
      fc.record({ op: fc.constant('change' as const), at: fc.nat(), ch: anyChar }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), ch: anyChar }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), ch: fc.constant('') }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), ch: fc.constant('') }),
    );
    fc.assert(
      fc.property(valid, edit, (value, { op, at, ch }) => {
        if (codec.decode(value) === null) return false;
        let changed: string;
        if (op === 'change') {
          const i = at % value.length;
          if (value[i] === ch) return true; // not a change
          changed = value.slice(0, i) + ch + value.slice(i + 1);
        } else if (op === 'insert') {
          const i = at % (value.length + 1);
          changed = value.slice(0, i) + ch + value.slice(i);
        } else if (op === 'delete') {
          const i = at % value.length;
          changed = value.slice(0, i) + value.slice(i + 1);
        } else {
          changed = value.slice(0, at % value.length);
        }
        return codec.decode(changed) === null;
      }),
      { numRuns: 500 },
    );
  });

  it('property: any random string, unicode or huge, is rejected without throwing', () => {
    const codec = new BalancerCookieCodec([OLD]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'grapheme' }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc
            .array(fc.string({ unit: fc.constantFrom('a', '0', '.', '-', '_', 'Z'), maxLength: 12 }), {
              maxLength: 6,
            })
            .map((p) => p.join('.')),
        ),
        (s) => codec.decode(s) === null,
      ),
      { numRuns: 1_000 },
    );
    // Huge values are cut off by length before any HMAC: a few are enough here, the fuzz project does more.
    fc.assert(
      fc.property(fc.string({ minLength: 10_000, maxLength: 20_000 }), (s) => codec.decode(s) === null),
      { numRuns: 10 },
    );
  });
});
