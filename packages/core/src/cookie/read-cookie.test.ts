// Reading one cookie from a request's Cookie header: the right one among many, never a suffix or a value
// that merely contains the name, quotes removed, big headers and garbage handled without throwing.

import fc from 'fast-check';
import { readCookie } from './read-cookie';

describe('readCookie', () => {
  it('finds the cookie at the start, in the middle and at the end', () => {
    expect(readCookie('STICKY=abc', 'STICKY')).toBe('abc');
    expect(readCookie('a=1; STICKY=abc; b=2', 'STICKY')).toBe('abc');
    expect(readCookie('a=1; b=2; STICKY=abc', 'STICKY')).toBe('abc');
    expect(readCookie('a=1;STICKY=abc;b=2', 'STICKY')).toBe('abc');
    expect(readCookie('a=1;\tSTICKY=abc', 'STICKY')).toBe('abc');
    expect(readCookie('a=1;   STICKY=  abc  ; b=2', 'STICKY')).toBe('abc');
  });

  it('answers undefined when the cookie is absent', () => {
    expect(readCookie(undefined, 'STICKY')).toBeUndefined();
    expect(readCookie('', 'STICKY')).toBeUndefined();
    expect(readCookie('a=1; b=2', 'STICKY')).toBeUndefined();
    expect(readCookie([], 'STICKY')).toBeUndefined();
  });

  it('never matches a suffix, a prefix, a value or a case variant of the name', () => {
    expect(readCookie('XSTICKY=evil', 'STICKY')).toBeUndefined();
    expect(readCookie('XSTICKY=evil; STICKY=good', 'STICKY')).toBe('good');
    expect(readCookie('STICKYCORS=twin; STICKY=main', 'STICKY')).toBe('main');
    expect(readCookie('STICKYCORS=twin', 'STICKY')).toBeUndefined();
    expect(readCookie('STICKYCORS=twin', 'STICKYCORS')).toBe('twin');
    expect(readCookie('a=STICKY=evil', 'STICKY')).toBeUndefined();
    expect(readCookie('a=x STICKY=evil', 'STICKY')).toBeUndefined();
    expect(readCookie('sticky=lower', 'STICKY')).toBeUndefined();
    expect(readCookie('STICKY', 'STICKY')).toBeUndefined();
    expect(readCookie('STICKY ; STICKY=ok', 'STICKY')).toBe('ok');
  });

  it('takes the first of duplicate cookies (the most specific path, as browsers order them)', () => {
    expect(readCookie('STICKY=first; STICKY=second', 'STICKY')).toBe('first');
  });

  it('removes surrounding double quotes, and keeps empty values', () => {
    expect(readCookie('STICKY="abc"', 'STICKY')).toBe('abc');
    expect(readCookie('a=1; STICKY="a.b.c"; b=2', 'STICKY')).toBe('a.b.c');
    expect(readCookie('STICKY="', 'STICKY')).toBe('"');
    expect(readCookie('STICKY=""', 'STICKY')).toBe('');
    expect(readCookie('STICKY=; a=1', 'STICKY')).toBe('');
    expect(readCookie('STICKY=a=b', 'STICKY')).toBe('a=b');
  });

  it('reads a header given as a list (HTTP/2 may split the Cookie header)', () => {
    expect(readCookie(['a=1', 'STICKY=abc'], 'STICKY')).toBe('abc');
    expect(readCookie(['a=1; XSTICKY=no', 'b=2'], 'STICKY')).toBeUndefined();
  });

  it('finds it among 500 cookies whose names contain it', () => {
    const many = Array.from({ length: 500 }, (_, i) => `c${i}STICKY${i}=STICKY=v${i}`);
    many.splice(321, 0, 'STICKY=target');
    expect(readCookie(many.join('; '), 'STICKY')).toBe('target');
    many.splice(321, 1);
    expect(readCookie(many.join('; '), 'STICKY')).toBeUndefined();
  });

  it('property: never throws on garbage, and finds a cookie placed among random others', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ maxLength: 10 }),
        (header, name) => {
          const value = readCookie(header, name || 'STICKY');
          return value === undefined || typeof value === 'string';
        },
      ),
      { numRuns: 500 },
    );
    const pair = fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9_]{1,10}$/), fc.stringMatching(/^[A-Za-z0-9._-]{0,20}$/))
      .filter(([n]) => n !== 'STICKY')
      .map(([n, v]) => `${n}=${v}`);
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 20 }), fc.array(pair, { maxLength: 20 }), (before, after) => {
        return readCookie([...before, 'STICKY=found', ...after].join('; '), 'STICKY') === 'found';
      }),
      { numRuns: 300 },
    );
  });
});

describe('readCookie at the start of the header', () => {
  it('skips spaces and tabs before the first pair', () => {
    expect(readCookie(' STICKY=v1', 'STICKY')).toBe('v1');
    expect(readCookie('\t STICKY=v2; a=b', 'STICKY')).toBe('v2');
    expect(readCookie('x STICKY=v3', 'STICKY')).toBeUndefined();
  });
});

describe('readCookie and quotes', () => {
  it('strips a pair of surrounding quotes only: a lone quote or a quote at one end stays', () => {
    expect(readCookie('a="v"', 'a')).toBe('v');
    expect(readCookie('a=""', 'a')).toBe('');
    expect(readCookie('a="', 'a')).toBe('"');
    expect(readCookie('a=ab"', 'a')).toBe('ab"');
    expect(readCookie('a="ab', 'a')).toBe('"ab');
  });
});
