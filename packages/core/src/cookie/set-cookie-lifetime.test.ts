// Reading an upstream's Set-Cookie headers for one cookie's lifetime (RFC 6265 §5.2–5.3): Max-Age,
// Expires, both (Max-Age wins), session cookies, deletion, several cookies, any order and case, and
// malformed input ignored without ever throwing.

import fc from 'fast-check';
import { parseSetCookieLifetime } from './set-cookie-lifetime';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const IN_ONE_HOUR = new Date(NOW + 3_600_000).toUTCString();
const AN_HOUR_AGO = new Date(NOW - 3_600_000).toUTCString();

function parse(setCookie: Parameters<typeof parseSetCookieLifetime>[0], name = 'JSESSIONID') {
  return parseSetCookieLifetime(setCookie, name, NOW);
}

describe('parseSetCookieLifetime', () => {
  it('answers null when nothing sets the cookie', () => {
    expect(parse(undefined)).toBeNull();
    expect(parse([])).toBeNull();
    expect(parse('other=1; Max-Age=60')).toBeNull();
    expect(parse(['a=1', 'b=2; Path=/'])).toBeNull();
  });

  it('reads Max-Age', () => {
    expect(parse('JSESSIONID=abc; Max-Age=3600; Path=/; HttpOnly')).toEqual({
      kind: 'set',
      value: 'abc',
      expiresAt: NOW + 3_600_000,
      maxAge: 3600,
    });
  });

  it('reads Expires', () => {
    const result = parse(`JSESSIONID=abc; Expires=${IN_ONE_HOUR}; Path=/`);
    expect(result).toMatchObject({ kind: 'set', value: 'abc', expiresAt: NOW + 3_600_000 });
    expect(result?.kind === 'set' && result.expires?.getTime()).toBe(NOW + 3_600_000);
    expect(result?.kind === 'set' && result.maxAge).toBeUndefined();
  });

  it('with both, Max-Age wins whichever comes first (RFC 6265 §5.3)', () => {
    for (const header of [
      `JSESSIONID=abc; Expires=${AN_HOUR_AGO}; Max-Age=600`,
      `JSESSIONID=abc; Max-Age=600; Expires=${AN_HOUR_AGO}`,
    ]) {
      expect(parse(header)).toEqual({ kind: 'set', value: 'abc', expiresAt: NOW + 600_000, maxAge: 600 });
    }
    expect(parse(`JSESSIONID=abc; Expires=${IN_ONE_HOUR}; Max-Age=0`)).toEqual({ kind: 'delete' });
  });

  it('reads a session cookie (no Max-Age, no Expires)', () => {
    expect(parse('JSESSIONID=abc; Path=/; HttpOnly; Secure; SameSite=Lax')).toEqual({
      kind: 'set',
      value: 'abc',
      expiresAt: null,
    });
    expect(parse('JSESSIONID=abc')).toEqual({ kind: 'set', value: 'abc', expiresAt: null });
  });

  it('reads deletion: Max-Age=0, a negative Max-Age, an Expires in the past or right now', () => {
    expect(parse('JSESSIONID=; Max-Age=0; Path=/')).toEqual({ kind: 'delete' });
    expect(parse('JSESSIONID=abc; Max-Age=-1')).toEqual({ kind: 'delete' });
    expect(parse(`JSESSIONID=; Expires=${AN_HOUR_AGO}`)).toEqual({ kind: 'delete' });
    expect(parse('JSESSIONID=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT')).toEqual({ kind: 'delete' });
    expect(parse(`JSESSIONID=x; Expires=${new Date(NOW).toUTCString()}`)).toEqual({ kind: 'delete' });
  });

  it('finds the cookie among several in one response, as an array or one comma-joined string', () => {
    const array = ['theme=dark; Max-Age=99999', 'JSESSIONID=abc; Max-Age=60; Path=/', 'lang=en'];
    expect(parse(array)).toMatchObject({ kind: 'set', value: 'abc', maxAge: 60 });
    // fetch's Headers.get('set-cookie') joins them with ", " — Expires dates hold commas too.
    const joined = `theme=dark; Expires=${IN_ONE_HOUR}, JSESSIONID=abc; Expires=${IN_ONE_HOUR}; Path=/, lang=en; Max-Age=5`;
    expect(parse(joined)).toMatchObject({ kind: 'set', value: 'abc', expiresAt: NOW + 3_600_000 });
    expect(parse(joined, 'lang')).toMatchObject({ kind: 'set', value: 'en', maxAge: 5 });
    expect(parse(joined, 'theme')).toMatchObject({ kind: 'set', value: 'dark' });
  });

  it('when the same cookie is set twice, the last one counts (as in a browser)', () => {
    expect(parse(['JSESSIONID=a; Max-Age=60', 'JSESSIONID=b; Max-Age=120'])).toMatchObject({
      value: 'b',
      maxAge: 120,
    });
    expect(parse(['JSESSIONID=a; Max-Age=60', 'JSESSIONID=; Max-Age=0'])).toEqual({ kind: 'delete' });
    expect(parse(['JSESSIONID=; Max-Age=0', 'JSESSIONID=c'])).toMatchObject({ kind: 'set', value: 'c' });
  });

  it('reads attributes in any order and any case', () => {
    for (const header of [
      'JSESSIONID=abc; max-age=60',
      'JSESSIONID=abc; MAX-AGE=60',
      'JSESSIONID=abc; Path=/; HttpOnly; Max-Age=60; Secure',
      'JSESSIONID=abc;Max-Age=60;Path=/',
      'JSESSIONID=abc ;  Max-Age = 60 ',
    ]) {
      expect(parse(header)).toMatchObject({ kind: 'set', value: 'abc', maxAge: 60 });
    }
    expect(parse(`JSESSIONID=abc; expires=${IN_ONE_HOUR}`)).toMatchObject({ expiresAt: NOW + 3_600_000 });
    expect(parse(`JSESSIONID=abc; EXPIRES=${IN_ONE_HOUR}; path=/`)).toMatchObject({
      expiresAt: NOW + 3_600_000,
    });
  });

  it('matches the name exactly: no prefix, suffix or case variant', () => {
    expect(parse('XJSESSIONID=abc; Max-Age=60')).toBeNull();
    expect(parse('JSESSIONIDX=abc; Max-Age=60')).toBeNull();
    expect(parse('jsessionid=abc; Max-Age=60')).toBeNull();
    expect(parse('other=JSESSIONID; Max-Age=60')).toBeNull();
    expect(parse('other=1; Path=/JSESSIONID')).toBeNull();
  });

  it('keeps cookie values as sent (no decoding) and values holding "="', () => {
    expect(parse('JSESSIONID=a%20b==; Max-Age=5')).toMatchObject({ value: 'a%20b==' });
  });

  it('caps lifetimes at 400 days (RFC 6265bis)', () => {
    expect(parse('JSESSIONID=abc; Max-Age=999999999')).toMatchObject({ maxAge: 400 * 86_400 });
    expect(parse('JSESSIONID=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT')).toMatchObject({
      expiresAt: NOW + 400 * 86_400_000,
    });
  });

  it('ignores a malformed Max-Age or Expires attribute, and malformed headers, without throwing', () => {
    expect(parse('JSESSIONID=abc; Max-Age=soon')).toEqual({ kind: 'set', value: 'abc', expiresAt: null });
    expect(parse('JSESSIONID=abc; Max-Age=1e3')).toEqual({ kind: 'set', value: 'abc', expiresAt: null });
    expect(parse(`JSESSIONID=abc; Max-Age=; Expires=${IN_ONE_HOUR}`)).toMatchObject({
      expiresAt: NOW + 3_600_000,
    });
    expect(parse('JSESSIONID=abc; Expires=not a date')).toEqual({
      kind: 'set',
      value: 'abc',
      expiresAt: null,
    });
    for (const junk of [
      '',
      ';',
      ';;;=;',
      '=JSESSIONID',
      'JSESSIONID',
      '; JSESSIONID=abc',
      '\u0000JSESSIONID=\uffff',
    ]) {
      expect(() => parse(junk)).not.toThrow();
    }
    expect(parse('JSESSIONID')).toBeNull();
    // Whatever an adapter hands over, it is read or ignored.
    expect(parse([42, null, 'JSESSIONID=ok; Max-Age=9'] as never)).toMatchObject({ value: 'ok' });
    expect(parse('__proto__=x; Max-Age=5', '__proto__')).toBeNull();
  });

  it('property: never throws, and a set lifetime is consistent', () => {
    const attribute = fc.oneof(
      fc.constantFrom(
        'Path=/',
        'HttpOnly',
        'Secure',
        'SameSite=None',
        'Domain=example.com',
        'Max-Age=0',
        'max-age=60',
        `Expires=${IN_ONE_HOUR}`,
        `expires=${AN_HOUR_AGO}`,
      ),
      fc.string({ maxLength: 30 }),
      fc
        .tuple(fc.constantFrom('Max-Age', 'Expires'), fc.string({ maxLength: 30 }))
        .map(([k, v]) => `${k}=${v}`),
    );
    const header = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('JSESSIONID', 'JSESSIONIDX', 'x'),
          fc.string({ maxLength: 20 }),
          fc.array(attribute, { maxLength: 5 }),
        )
        .map(([n, v, attrs]) => [`${n}=${v}`, ...attrs].join('; ')),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          header,
          fc.array(header, { maxLength: 4 }),
          fc.array(header).map((h) => h.join(', ')),
        ),
        (input) => {
          const result = parse(input);
          if (result === null || result.kind === 'delete') return true;
          return (
            result.expiresAt === null ||
            (result.expiresAt > NOW && result.expiresAt <= NOW + 400 * 86_400_000)
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
