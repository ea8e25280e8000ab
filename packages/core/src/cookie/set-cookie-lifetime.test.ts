// What a browser keeps of an upstream's Set-Cookie lines for one cookie (RFC 6265bis §5.6–5.7 as Chromium
// applies it): Max-Age and Expires (Max-Age wins, the last attribute of each counts), session cookies,
// deletion, one line per cookie (never split at commas), refusals (Domain, Secure, SameSite=None,
// Partitioned, prefixes, sizes, control characters), the cheap prefilter, and never a throw.

import fc from 'fast-check';
import {
  type CookieOrigin,
  namesCookie,
  parseSetCookieLifetime,
  readSetCookies,
} from './set-cookie-lifetime';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const IN_ONE_HOUR = new Date(NOW + 3_600_000).toUTCString();
const AN_HOUR_AGO = new Date(NOW - 3_600_000).toUTCString();
const CAP_S = 400 * 86_400;
const HTTP: CookieOrigin = { host: 'home.example.org', secure: false };
const HTTPS: CookieOrigin = { host: 'home.example.org:8443', secure: true };

function parse(setCookie: Parameters<typeof parseSetCookieLifetime>[0], origin = HTTP, name = 'SID') {
  return parseSetCookieLifetime(setCookie, name, NOW, origin);
}

const session = (value: string, domain?: string, partitioned = false) => ({
  kind: 'set',
  value,
  expiresAt: null,
  domain,
  partitioned,
});
const deleted = { kind: 'delete', domain: undefined, partitioned: false };

describe('parseSetCookieLifetime: lifetimes', () => {
  it('answers null when nothing sets the cookie', () => {
    expect(parse(undefined)).toBeNull();
    expect(parse([])).toBeNull();
    expect(parse('other=1; Max-Age=60')).toBeNull();
    expect(parse(['a=1', 'b=2; Path=/'])).toBeNull();
  });

  it('reads Max-Age, and sends it on as Max-Age', () => {
    expect(parse('SID=abc; Max-Age=3600; Path=/; HttpOnly')).toEqual({
      kind: 'set',
      value: 'abc',
      expiresAt: NOW + 3_600_000,
      maxAge: 3600,
      domain: undefined,
      partitioned: false,
    });
  });

  it('reads Expires with the cookie-date algorithm, and sends it on as Expires', () => {
    const result = parse(`SID=abc; Expires=${IN_ONE_HOUR}; Path=/`);
    expect(result).toMatchObject({ kind: 'set', value: 'abc', expiresAt: NOW + 3_600_000 });
    expect(result?.kind === 'set' && result.expires?.getTime()).toBe(NOW + 3_600_000);
    expect(result?.kind === 'set' && result.maxAge).toBeUndefined();
    // Formats browsers read and Date.parse reads otherwise, or not at all.
    expect(parse('SID=a; Expires=01-Jan-2025 13:00:00 GMT')).toMatchObject({ expiresAt: NOW + 3_600_000 });
    expect(parse('SID=a; Expires=1 jan 25 13:00:00')).toMatchObject({ expiresAt: NOW + 3_600_000 });
    expect(parse('SID=a; Expires=2025-01-01T13:00:00Z')).toEqual(session('a'));
  });

  it('with both, Max-Age wins whichever comes first', () => {
    for (const header of [
      `SID=abc; Expires=${AN_HOUR_AGO}; Max-Age=600`,
      `SID=abc; Max-Age=600; Expires=${AN_HOUR_AGO}`,
    ]) {
      expect(parse(header)).toMatchObject({ kind: 'set', expiresAt: NOW + 600_000, maxAge: 600 });
    }
    expect(parse(`SID=abc; Expires=${IN_ONE_HOUR}; Max-Age=0`)).toEqual(deleted);
  });

  it('reads a session cookie (no Max-Age, no Expires, or neither readable)', () => {
    expect(parse('SID=abc; Path=/; HttpOnly; SameSite=Lax')).toEqual(session('abc'));
    expect(parse('SID=abc')).toEqual(session('abc'));
    expect(parse('SID=abc; Max-Age=soon; Expires=not a date')).toEqual(session('abc'));
  });

  it('reads deletion: Max-Age ≤ 0, an Expires in the past, right now, or before 1601', () => {
    expect(parse('SID=; Max-Age=0; Path=/')).toEqual(deleted);
    expect(parse('SID=abc; Max-Age=-1')).toEqual(deleted);
    expect(parse('SID=abc; Max-Age=-99999999999999999999')).toEqual(deleted);
    expect(parse(`SID=; Expires=${AN_HOUR_AGO}`)).toEqual(deleted);
    expect(parse('SID=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT')).toEqual(deleted);
    expect(parse(`SID=x; Expires=${new Date(NOW).toUTCString()}`)).toEqual(deleted);
    expect(parse('SID=x; Expires=1 Jan 1600 00:00:00')).toEqual(deleted);
  });

  it('one line is one cookie: never split at a comma', () => {
    // Browsers see an invalid Max-Age here (`3600, c=d`): a session cookie, and no cookie c.
    expect(parse('SID=b;max-age=3600, c=d')).toEqual(session('b'));
    expect(parse('SID=b;max-age=3600, c=d', HTTP, 'c')).toBeNull();
    expect(parse('SID=1, other=2; Max-Age=60')).toMatchObject({ value: '1, other=2', maxAge: 60 });
    expect(parse('SID=b; Max-Age=50,399')).toEqual(session('b'));
    expect(parse(`x=1, SID=abc; Expires=${IN_ONE_HOUR}`)).toBeNull();
  });

  it('Max-Age as Chromium reads it: digits with a sign; the last one counts, even when invalid', () => {
    expect(parse('SID=a; Max-Age=+5')).toMatchObject({ maxAge: 5 });
    expect(parse('SID=a; Max-Age=08')).toMatchObject({ maxAge: 8 });
    expect(parse('SID=a; Max-Age= 50 ')).toMatchObject({ maxAge: 50 });
    expect(parse('SID=a; Max-Age=1e3')).toEqual(session('a'));
    expect(parse('SID=a; Max-Age=2.5')).toEqual(session('a'));
    expect(parse('SID=a; Max-Age=10; Max-Age=abc')).toEqual(session('a'));
    expect(parse(`SID=a; Max-Age=abc; Expires=${IN_ONE_HOUR}`)).toMatchObject({ expiresAt: NOW + 3_600_000 });
    expect(parse('SID=a; Max-Age=60; Expires=bogus')).toMatchObject({ maxAge: 60 });
    expect(parse(`SID=a; Expires=${IN_ONE_HOUR}; Expires=bogus`)).toEqual(session('a'));
  });

  it('caps lifetimes at 400 days; a later Expires is sent on as the cap in Max-Age', () => {
    expect(parse('SID=abc; Max-Age=999999999')).toMatchObject({ maxAge: CAP_S });
    expect(parse('SID=abc; Max-Age=99999999999999999999')).toMatchObject({ maxAge: CAP_S });
    const far = parse('SID=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT');
    expect(far).toMatchObject({ expiresAt: NOW + CAP_S * 1000, maxAge: CAP_S });
    expect(far?.kind === 'set' && far.expires).toBeUndefined();
  });

  it('the same cookie set twice in one response: the last line counts (per domain)', () => {
    expect(parse(['SID=a; Max-Age=60', 'SID=b; Max-Age=120'])).toMatchObject({ value: 'b', maxAge: 120 });
    expect(parse(['SID=a; Max-Age=60', 'SID=; Max-Age=0'])).toEqual(deleted);
    expect(parse(['SID=; Max-Age=0', 'SID=c'])).toEqual(session('c'));
    // A host-only cookie and one for the whole domain are two cookies in the browser; so are a partitioned
    // cookie and one that is not.
    expect(
      readSetCookies(['SID=a; Domain=example.org', 'SID=; Max-Age=0', 'SID=b'], 'SID', NOW, HTTP),
    ).toEqual([session('a', 'example.org'), session('b')]);
    expect(
      readSetCookies(['SID=a; Secure; Partitioned', 'SID=; Max-Age=0; Secure'], 'SID', NOW, HTTPS),
    ).toEqual([session('a', undefined, true), deleted]);
  });

  it('reads attributes in any order and case, around any whitespace', () => {
    for (const header of [
      'SID=abc; max-age=60',
      'SID=abc; MAX-AGE=60',
      'SID=abc; Path=/; HttpOnly; Max-Age=60; SameSite=Lax',
      'SID=abc;Max-Age=60;Path=/',
      'SID=abc ;  Max-Age = 60 ',
      '  SID\t=\tabc\t;\tmax-age=60',
    ]) {
      expect(parse(header)).toMatchObject({ kind: 'set', value: 'abc', maxAge: 60 });
    }
  });

  it('matches the name exactly: no prefix, suffix, case variant, or a value that holds it', () => {
    expect(parse('XSID=abc; Max-Age=60')).toBeNull();
    expect(parse('SIDX=abc; Max-Age=60')).toBeNull();
    expect(parse('sid=abc; Max-Age=60')).toBeNull();
    expect(parse('other=SID; Max-Age=60')).toBeNull();
    expect(parse('other=1; Path=/SID')).toBeNull();
    expect(parse('SID')).toBeNull(); // a nameless cookie whose value is "SID"
  });

  it('keeps the value as sent: no decoding, quotes kept, values holding "="', () => {
    expect(parse('SID=a%20b==; Max-Age=5')).toMatchObject({ value: 'a%20b==' });
    expect(parse('SID="quoted"')).toMatchObject({ value: '"quoted"' });
  });
});

describe('parseSetCookieLifetime: what the browser refuses', () => {
  it('a Domain must domain-match the host and not be a public suffix', () => {
    expect(parse('SID=a; Domain=example.org')).toEqual(session('a', 'example.org'));
    expect(parse('SID=a; Domain=.Example.ORG')).toEqual(session('a', 'example.org'));
    expect(parse('SID=a; Domain=home.example.org')).toEqual(session('a', 'home.example.org'));
    for (const refused of [
      'sibling.example.org',
      '.org',
      'org',
      'example.org.',
      'example.org:80',
      '"example.org"',
      '..home.example.org',
      'sub.home.example.org',
      'example.com',
      '%65xample.org',
    ]) {
      expect({ refused, result: parse(`SID=a; Max-Age=60; Domain=${refused}`) }).toEqual({
        refused,
        result: null,
      });
    }
    // Deleting a cookie of a domain the browser refuses deletes nothing.
    expect(parse('SID=; Max-Age=0; Domain=sibling.example.org')).toBeNull();
  });

  it('an empty Domain is host-only; the last Domain counts, even an empty one', () => {
    expect(parse('SID=a; Domain=')).toEqual(session('a'));
    expect(parse('SID=a; Domain=sibling.example.org; Domain=')).toEqual(session('a'));
    expect(parse('SID=a; Domain=example.org; Domain=sibling.example.org')).toBeNull();
    expect(parse('SID=a; Domain=sibling.example.org; Domain=example.org')).toEqual(
      session('a', 'example.org'),
    );
  });

  it('hosts without a registrable domain set host-only cookies by naming themselves', () => {
    const at = (host: string, domain: string) => parse(`SID=a; Domain=${domain}`, { host, secure: false });
    expect(at('localhost:3000', 'localhost')).toEqual(session('a'));
    expect(at('localhost', '.localhost')).toEqual(session('a'));
    expect(at('127.0.0.1:8080', '127.0.0.1')).toEqual(session('a'));
    expect(at('127.0.0.1', '.127.0.0.1')).toEqual(session('a'));
    expect(at('127.0.0.1', '..127.0.0.1')).toBeNull();
    expect(at('[::1]:8080', '[::1]')).toEqual(session('a'));
    expect(at('127.0.0.1', '0.0.1')).toBeNull();
    expect(at('foo.localhost', 'localhost')).toBeNull();
    expect(at('foo.localhost', 'foo.localhost')).toEqual(session('a', 'foo.localhost'));
    // Private suffixes are public suffixes too.
    expect(at('foo.github.io', 'github.io')).toBeNull();
    expect(at('a.b.example.co.uk', 'example.co.uk')).toEqual(session('a', 'example.co.uk'));
    expect(at('a.b.example.co.uk', 'co.uk')).toBeNull();
  });

  it('without a Host (HTTP/1.0) the Domain is taken as the app sent it', () => {
    expect(parse('SID=a; Domain=.example.org', { host: undefined, secure: false })).toEqual(
      session('a', 'example.org'),
    );
  });

  it('Secure is refused from a plain-HTTP origin other than localhost and loopback', () => {
    expect(parse('SID=a; Secure')).toBeNull();
    expect(parse('SID=a; secure=no; Max-Age=5')).toBeNull();
    expect(parse('SID=; Secure; Max-Age=0')).toBeNull();
    expect(parse('SID=a; Secure', HTTPS)).toEqual(session('a'));
    for (const host of ['localhost:8080', 'app.localhost', '127.0.0.1', '127.1.2.3:80', '[::1]:443'])
      expect(parse('SID=a; Secure', { host, secure: false })).toEqual(session('a'));
    // A quoted or run-on attribute is not Secure.
    expect(parse('SID=a; "Secure"')).toEqual(session('a'));
    expect(parse('SID=a; Secure qux')).toEqual(session('a'));
  });

  it('SameSite=None and Partitioned need Secure', () => {
    expect(parse('SID=a; SameSite=None', HTTPS)).toBeNull();
    expect(parse('SID=a; samesite = NONE ', HTTPS)).toBeNull();
    expect(parse('SID=a; SameSite=None; Secure', HTTPS)).toEqual(session('a'));
    expect(parse('SID=a; SameSite=None; SameSite=Lax')).toEqual(session('a'));
    expect(parse('SID=a; SameSite=Lax; SameSite=None')).toBeNull();
    expect(parse('SID=a; SameSite=bogus')).toEqual(session('a'));
    expect(parse('SID=a; Partitioned', HTTPS)).toBeNull();
    expect(parse('SID=a; Partitioned; Secure', HTTPS)).toEqual(session('a', undefined, true));
  });

  it('prefixes, in any case: __Secure-, __Host-, __Http-, __Host-Http-', () => {
    const stored = (name: string, attributes: string) =>
      parseSetCookieLifetime(`${name}=v; ${attributes}`, name, NOW, HTTPS) !== null;
    expect(stored('__Secure-SID', 'Secure')).toBe(true);
    expect(stored('__Secure-SID', 'Path=/')).toBe(false);
    expect(stored('__secure-SID', 'Path=/')).toBe(false);
    expect(stored('__Host-SID', 'Secure; Path=/')).toBe(true);
    expect(stored('__Host-SID', 'Secure; Path=/; Domain=')).toBe(true);
    expect(stored('__HOST-SID', 'Secure')).toBe(false); // Path=/ must be given
    expect(stored('__Host-SID', 'Secure; Path=/x')).toBe(false);
    expect(stored('__Host-SID', 'Secure; Path=/x; Path=/')).toBe(true);
    expect(stored('__Host-SID', 'Secure; Path=/; Domain=home.example.org')).toBe(false);
    expect(stored('__Host-SID', 'Path=/')).toBe(false);
    expect(stored('__Http-SID', 'Secure; HttpOnly')).toBe(true);
    expect(stored('__http-SID', 'Secure')).toBe(false);
    expect(stored('__Host-Http-SID', 'Secure; Path=/')).toBe(false);
    expect(stored('__Host-Http-SID', 'Secure; Path=/; HttpOnly')).toBe(true);
    expect(stored('__Hostile', 'Path=/')).toBe(true);
  });

  it('size limits: name and value up to 4096 bytes; attribute values over 1024 bytes are dropped', () => {
    expect(parse(`SID=${'v'.repeat(4093)}`)).toMatchObject({ kind: 'set' });
    expect(parse(`SID=${'v'.repeat(4094)}`)).toBeNull();
    expect(parse(`SID=a; Max-Age=60; Max-Age=${'0'.repeat(1030)}5`)).toMatchObject({ maxAge: 60 });
    expect(parse(`SID=a; Max-Age=${'0'.repeat(1020)}5`)).toMatchObject({ maxAge: 5 });
    expect(parse(`SID=a; Domain=example.org; Domain=${'a'.repeat(1025)}.org`)).toEqual(
      session('a', 'example.org'),
    );
  });

  it('refuses a line with a control character (HTAB aside)', () => {
    expect(parse('SID=a\u0001b')).toBeNull();
    expect(parse('SID=a; Max-Age=60\u007f')).toBeNull();
    expect(parse('SID=a\tb')).toEqual(session('a\tb'));
  });

  it('never throws on garbage, and a set lifetime is consistent (property)', () => {
    for (const junk of ['', ';', ';;;=;', '=SID', 'SID', '; SID=abc', '\u0000SID=\uffff']) {
      expect(() => parse(junk)).not.toThrow();
    }
    expect(parse([42, null, 'SID=ok; Max-Age=9'] as never)).toMatchObject({ value: 'ok' });
    const attribute = fc.oneof(
      fc.constantFrom(
        'Path=/',
        'HttpOnly',
        'Secure',
        'SameSite=None',
        'Domain=example.org',
        'Domain=other.org',
        'Max-Age=0',
        'max-age=60',
        `Expires=${IN_ONE_HOUR}`,
        `expires=${AN_HOUR_AGO}`,
      ),
      fc.string({ maxLength: 30 }),
      fc
        .tuple(fc.constantFrom('Max-Age', 'Expires', 'Domain'), fc.string({ maxLength: 30 }))
        .map(([k, v]) => `${k}=${v}`),
    );
    const header = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('SID', 'SIDX', 'x', '__Host-SID'),
          fc.string({ maxLength: 20 }),
          fc.array(attribute, { maxLength: 5 }),
        )
        .map(([n, v, attrs]) => [`${n}=${v}`, ...attrs].join('; ')),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(header, fc.array(header, { maxLength: 4 })),
        fc.constantFrom(HTTP, HTTPS, { host: undefined, secure: false }, { host: '[::1', secure: false }),
        (input, origin) => {
          for (const result of readSetCookies(input, 'SID', NOW, origin)) {
            if (result.kind === 'delete') continue;
            if (result.expiresAt === null) {
              if (result.maxAge !== undefined || result.expires !== undefined) return false;
            } else if (!(result.expiresAt > NOW && result.expiresAt <= NOW + CAP_S * 1000)) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('namesCookie (the prefilter)', () => {
  it('is true only for a line that starts with the name and "="', () => {
    expect(namesCookie(undefined, 'SID')).toBe(false);
    expect(namesCookie('SID=1', 'SID')).toBe(true);
    expect(namesCookie(' \tSID \t= 1', 'SID')).toBe(true);
    expect(namesCookie(['a=1', 'SID=; Max-Age=0'], 'SID')).toBe(true);
    for (const line of ['SIDX=1', 'XSID=1', 'a=SID', 'a=1; SID=2', 'SID', 'SID;=1', 'sid=1', ''])
      expect({ line, names: namesCookie([line], 'SID') }).toEqual({ line, names: false });
  });
});

describe('parseSetCookieLifetime at its edges', () => {
  const NO_HOST: CookieOrigin = { host: undefined, secure: false };

  it('without a Host to check against, a Domain is taken as written, less one leading dot', () => {
    expect(parse('SID=a; Domain=Example.org', NO_HOST)).toMatchObject({ kind: 'set', domain: 'example.org' });
    expect(parse('SID=a; Domain=.Example.org', NO_HOST)).toMatchObject({
      kind: 'set',
      domain: 'example.org',
    });
  });

  it('a Domain flag without a value is a host-only cookie, not a refused one', () => {
    expect(parse('SID=a; Domain')).toEqual(session('a'));
    expect(parse('SID=a; Domain=')).toEqual(session('a'));
  });

  it('an Expires exactly at the 400-day cap is kept as Expires; a second later it is capped', () => {
    const atCap = new Date(NOW + CAP_S * 1000).toUTCString();
    expect(parse(`SID=a; Expires=${atCap}`)).toMatchObject({
      kind: 'set',
      expiresAt: NOW + CAP_S * 1000,
      expires: new Date(NOW + CAP_S * 1000),
    });
    expect(parse(`SID=a; Expires=${atCap}`)).not.toHaveProperty('maxAge');
    const past = new Date(NOW + CAP_S * 1000 + 1000).toUTCString();
    expect(parse(`SID=a; Expires=${past}`)).toMatchObject({ expiresAt: NOW + CAP_S * 1000, maxAge: CAP_S });
  });

  it('an attribute value of 1,024 characters counts; one longer is dropped', () => {
    const at = `${'0'.repeat(1021)}600`;
    expect(at).toHaveLength(1024);
    expect(parse(`SID=a; Max-Age=${at}`)).toMatchObject({ kind: 'set', maxAge: 600 });
    expect(parse(`SID=a; Max-Age=0${at}`)).toEqual(session('a'));
  });

  it('a name that is exactly a prefix (__Host-) is held to the prefix', () => {
    expect(parse('__Host-=a; Path=/', HTTP, '__Host-')).toBeNull();
    expect(parse('__Host-=a; Path=/; Secure', HTTPS, '__Host-')).toMatchObject({ kind: 'set', value: 'a' });
  });
});
