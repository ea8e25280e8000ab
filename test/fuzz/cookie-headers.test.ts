// Fuzzing the two readers of cookie headers the router runs on every request and response:
// readCookie (the client's Cookie header) and parseSetCookieLifetime (the upstream's Set-Cookie headers).

import fc from 'fast-check';
import { readCookie } from '../../packages/core/src/cookie/read-cookie';
import { parseSetCookieLifetime } from '../../packages/core/src/cookie/set-cookie-lifetime';
import { FUZZ_RUNS, fuzzTimeout } from './runs';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
/** An HTTPS request to a plain host name: Secure cookies are stored, a Domain must match www.example.com. */
const ORIGIN = { host: 'www.example.com', secure: true };
const MAX_LIFETIME_MS = 400 * 86_400_000;
const name = fc.oneof(
  fc.constantFrom('STICKY', 'JSESSIONID', 'connect.sid', 'a'),
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
);
const anything = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 500 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
);

describe('fuzz: readCookie', () => {
  it(
    'never throws and answers a string or undefined for any header and name',
    () => {
      fc.assert(
        fc.property(fc.oneof(anything, fc.array(anything, { maxLength: 5 })), name, (header, n) => {
          const value = readCookie(header, n);
          return value === undefined || typeof value === 'string';
        }),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );

  it(
    'finds a cookie placed among random well-formed others, and never one whose name only contains it',
    () => {
      const token = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
      const value = fc.stringMatching(/^[A-Za-z0-9._~-]{0,30}$/);
      fc.assert(
        fc.property(
          name,
          value,
          fc.array(fc.tuple(token, value), { maxLength: 30 }),
          fc.nat(),
          (n, v, others, at) => {
            const pairs = others.filter(([k]) => k !== n).map(([k, x]) => `${k}=${x}`);
            const decoys = [`X${n}=decoy`, `${n}X=decoy`, `X${n}X=${n}=decoy`];
            if (readCookie([...decoys, ...pairs].join('; '), n) !== undefined) return false;
            pairs.splice(at % (pairs.length + 1), 0, `${n}=${v}`);
            return readCookie([...decoys, ...pairs].join('; '), n) === v;
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );
});

describe('fuzz: parseSetCookieLifetime', () => {
  const attribute = fc.oneof(
    fc.constantFrom('Path=/', 'HttpOnly', 'Secure', 'SameSite=None', 'Domain=.example.com', 'Partitioned'),
    fc.integer({ min: -10_000, max: 2 ** 40 }).map((n) => `Max-Age=${n}`),
    fc.integer({ min: -1e13, max: 1e13 }).map((ms) => `Expires=${new Date(NOW + ms).toUTCString()}`),
    fc
      .tuple(fc.constantFrom('max-age', 'EXPIRES', 'Max-Age', 'expires'), anything)
      .map(([k, v]) => `${k}=${v}`),
    anything,
  );
  const setCookie = fc
    .tuple(
      fc.oneof(name, anything),
      fc.oneof(fc.stringMatching(/^[A-Za-z0-9%=._-]{0,40}$/), anything),
      fc.array(attribute, { maxLength: 6 }),
    )
    .map(([n, v, attrs]) => [`${n}=${v}`, ...attrs].join('; '));

  it(
    'never throws, and any lifetime it reads lies in (now, now + 400 days]',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            setCookie,
            anything,
            fc.array(fc.oneof(setCookie, anything), { maxLength: 5 }),
            fc.array(setCookie, { maxLength: 5 }).map((h) => h.join(', ')),
          ),
          name,
          (headers, n) => {
            const result = parseSetCookieLifetime(headers, n, NOW, ORIGIN);
            if (result === null || result.kind === 'delete') return true;
            if (typeof result.value !== 'string') return false;
            if (result.expiresAt === null) return result.maxAge === undefined && result.expires === undefined;
            return result.expiresAt > NOW && result.expiresAt <= NOW + MAX_LIFETIME_MS;
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );

  it(
    'reads Max-Age over Expires, and deletion for Max-Age ≤ 0, whatever else the header holds',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: -1_000, max: 10_000_000 }),
          fc.integer({ min: -1e12, max: 1e12 }),
          fc.shuffledSubarray(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax']),
          fc.boolean(),
          (maxAge, expiresIn, flags, expiresFirst) => {
            const expires = `Expires=${new Date(NOW + expiresIn).toUTCString()}`;
            const attrs = expiresFirst ? [expires, `Max-Age=${maxAge}`] : [`Max-Age=${maxAge}`, expires];
            const result = parseSetCookieLifetime(
              ['other=1', ['SID=v', ...flags, ...attrs].join('; ')],
              'SID',
              NOW,
              ORIGIN,
            );
            if (maxAge <= 0) return result?.kind === 'delete';
            return (
              result?.kind === 'set' && result.maxAge === maxAge && result.expiresAt === NOW + maxAge * 1000
            );
          },
        ),
        { numRuns: FUZZ_RUNS },
      );
    },
    fuzzTimeout(),
  );
});
