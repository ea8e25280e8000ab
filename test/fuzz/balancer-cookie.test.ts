// Fuzzing the balancer cookie: the codec's decode and the router's whole request path take any string a
// client can send. Nothing throws, nothing forged is accepted, and every change to a valid value is caught.

import { createStickyRouter } from '@stickyroute/core';
import fc from 'fast-check';
import { BalancerCookieCodec } from '../../packages/core/src/cookie/balancer-cookie-codec';
import { steps } from '../../packages/core/src/testing/router-steps';
import { FUZZ_RUNS, fuzzTimeout } from './runs';

const SECRETS = ['fuzz-secret-0123456789abcdef', 'fuzz-old-secret-0123456789ab'];
const codec = new BalancerCookieCodec(SECRETS);

/** Strings a hostile client might send: anything, near-misses of the format, and huge values. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc
    .array(
      fc.string({ unit: fc.constantFrom('a', 'z', '0', '9', '-', '_', 'A', '.', '=', '%'), maxLength: 24 }),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((parts) => parts.join('.')),
  fc.string({ minLength: 129, maxLength: 5_000 }),
);

const valid = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 60 }),
    expires: fc.nat(),
    born: fc.nat(),
    keyIndex: fc.constantFrom(0, 1),
  })
  .map(({ id, expires, born, keyIndex }) => {
    // A value signed by an older key, as a client keeps it across a rotation.
    const signer = keyIndex === 0 ? codec : new BalancerCookieCodec([SECRETS[1]!]);
    return signer.encode(signer.backendToken(id), expires, born);
  });

describe('fuzz: BalancerCookieCodec.decode', () => {
  it(
    'rejects any hostile string without throwing',
    () => {
      fc.assert(
        fc.property(hostile, (value) => codec.decode(value) === null),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );

  it(
    'rejects every single-character change, insertion, deletion and truncation of a valid value',
    () => {
      const edit = fc.record({
        op: fc.constantFrom('change', 'insert', 'delete', 'truncate'),
        at: fc.nat(),
        ch: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
      });
      fc.assert(
        fc.property(valid, edit, (value, { op, at, ch }) => {
          if (codec.decode(value) === null) return false;
          const i = at % (op === 'insert' ? value.length + 1 : value.length);
          let changed: string;
          if (op === 'change') changed = value.slice(0, i) + ch + value.slice(i + 1);
          else if (op === 'insert') changed = value.slice(0, i) + ch + value.slice(i);
          else if (op === 'delete') changed = value.slice(0, i) + value.slice(i + 1);
          else changed = value.slice(0, i);
          return changed === value || codec.decode(changed) === null;
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );
});

describe('fuzz: the router with hostile Cookie headers', () => {
  const router = createStickyRouter({
    backends: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'],
    stickiness: { type: 'lb-cookie' },
    secret: SECRETS,
    cookie: { cors: true },
  });

  it(
    'balances the client as new with a fresh cookie, never throws',
    async () => {
      const header = fc.oneof(
        hostile.map((v) => `STICKY=${v}`),
        hostile.map((v) => `a=1; STICKYCORS=${v}; b=2`),
        hostile,
        fc.array(hostile, { maxLength: 4 }),
      );
      await fc.assert(
        fc.asyncProperty(header, async (cookie) => {
          const route = await router.route({
            method: 'GET',
            url: '/',
            headers: { cookie },
            ip: '203.0.113.1',
            secure: false,
          });
          const set = steps(router).responseCookies(route);
          steps(router).release(route);
          return route.reason === 'new' && route.backend !== null && set.length === 2;
        }),
        { numRuns: FUZZ_RUNS },
      );
      expect(router.stats().requests.sticky).toBe(0);
    },
    fuzzTimeout(),
  );
});
