// The Expires date as a browser reads it: the RFC 6265 cookie-date algorithm with Chromium's token rules
// (each expectation here was checked against Debian's chromium 156).

import fc from 'fast-check';
import { parseCookieDate } from './cookie-date';

const AUG_15 = Date.UTC(2027, 7, 15, 10, 11, 12);

describe('parseCookieDate', () => {
  it('reads the formats servers send', () => {
    for (const text of [
      'Sun, 15 Aug 2027 10:11:12 GMT',
      'Sunday, 15-Aug-27 10:11:12 GMT',
      'Sun Aug 15 10:11:12 2027',
      '15 aug 2027 10:11:12',
      '"15 Aug 2027 10:11:12"',
      '15-Aug-2027 10:11:12',
      'Augu 15 2027 10:11:12',
      '15 Aug 2027 10:11:12 PST', // zones are ignored: cookie dates are UTC
      '15 Aug 2027 10:11:12.5',
      '15 Aug 02027 10:11:12',
    ]) {
      expect({ text, at: parseCookieDate(text) }).toEqual({ text, at: AUG_15 });
    }
    expect(parseCookieDate('15 Aug 2027 1:2:3')).toBe(Date.UTC(2027, 7, 15, 1, 2, 3));
  });

  it('two-digit years: 70–99 are 19xx, 0–69 are 20xx', () => {
    expect(parseCookieDate('1 Jan 70 00:00:00')).toBe(Date.UTC(1970, 0, 1));
    expect(parseCookieDate('1 Jan 99 00:00:00')).toBe(Date.UTC(1999, 0, 1));
    expect(parseCookieDate('1 Jan 69 00:00:00')).toBe(Date.UTC(2069, 0, 1));
    expect(parseCookieDate('1 Jan 0 00:00:00')).toBe(Date.UTC(2000, 0, 1));
  });

  it('the first day, month, year and time win; extra tokens are ignored', () => {
    expect(parseCookieDate('15 Aug 2027 10:11:12 12:00:00')).toBe(AUG_15);
    expect(parseCookieDate('15 Aug 2027 10:11:12 Sep')).toBe(AUG_15);
    expect(parseCookieDate('Aug 15 10:11:12 2027 1')).toBe(AUG_15);
    // A second small number is the year: 15 → 2015.
    expect(parseCookieDate('5 Aug 15 2027 10:11:12')).toBe(Date.UTC(2015, 7, 5, 10, 11, 12));
  });

  it('numbers count only when all digits; a time is exactly h:m:s (Chromium)', () => {
    expect(parseCookieDate('1st Aug 15 10:11:12 2027')).toBe(AUG_15);
    for (const text of [
      '15a Aug 2027 10:11:12',
      '15 Aug 2027a 10:11:12',
      '15 Aug 2027 10:11:12:13',
      '15 Aug 2027 10:11:123',
      '15 Aug 2027 1a:11:12',
      '15 Aug 2027 :10:11:12',
      '15 Aug 2027 10::11:12',
      '15 Aug 2027 10:11',
    ]) {
      expect({ text, at: parseCookieDate(text) }).toEqual({ text, at: null });
    }
  });

  it('fails on missing parts, out-of-range fields and days a month does not have', () => {
    for (const text of [
      '',
      'tomorrow',
      '2027-08-15T10:11:12Z',
      '15 Aug 2027',
      'Aug 2027 10:11:12',
      '15 2027 10:11:12',
      '15 Aug 10:11:12',
      '0 Jan 2030 00:00:00',
      '32 Jan 2030 00:00:00',
      '99 Jan 2030 00:00:00',
      '1 Jan 2030 24:00:00',
      '1 Jan 2030 00:60:00',
      '1 Jan 2030 23:59:60',
      '31 Feb 2030 00:00:00',
      '31 Apr 2030 00:00:00',
    ]) {
      expect({ text, at: parseCookieDate(text) }).toEqual({ text, at: null });
    }
    expect(parseCookieDate('29 Feb 2028 00:00:00')).toBe(Date.UTC(2028, 1, 29));
  });

  it('a year before 1601 is the earliest date (the cookie is expired), not a failure', () => {
    expect(parseCookieDate('1 Jan 1600 00:00:00')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseCookieDate('15 Aug 123 10:11:12')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseCookieDate('1 Jan 1601 00:00:00')).toBe(Date.UTC(1601, 0, 1));
  });

  it('agrees with Date for every date toUTCString writes (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date(Date.UTC(1601, 0, 1)),
          max: new Date(Date.UTC(9999, 11, 31)),
          noInvalidDate: true,
        }),
        (d) => {
          const whole = Math.floor(d.getTime() / 1000) * 1000;
          return parseCookieDate(new Date(whole).toUTCString()) === whole;
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        const at = parseCookieDate(text);
        return at === null || typeof at === 'number';
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseCookieDate: the delimiters, character by character', () => {
  // RFC 6265 §5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
  const RANGES: [number, number][] = [
    [0x09, 0x09],
    [0x20, 0x2f],
    [0x3b, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ];
  const isRfcDelimiter = (code: number) => RANGES.some(([from, to]) => code >= from && code <= to);
  const JAN_2031 = Date.UTC(2031, 0, 1, 10, 0, 0);

  it('every ASCII character splits "01" from "Jan" if and only if the RFC makes it a delimiter', () => {
    for (let code = 0; code < 0x80; code++) {
      const text = `01${String.fromCharCode(code)}Jan 2031 10:00:00`;
      expect([code, parseCookieDate(text)]).toEqual([code, isRfcDelimiter(code) ? JAN_2031 : null]);
    }
  });

  it('a token of control characters is not a number: the day is the next one', () => {
    expect(parseCookieDate('\u0001 Jan 2031 10:00:00 5')).toBe(Date.UTC(2031, 0, 5, 10, 0, 0));
    expect(parseCookieDate('/ Jan 2031 10:00:00 5')).toBe(Date.UTC(2031, 0, 5, 10, 0, 0));
  });
});

describe('parseCookieDate: which token is which', () => {
  it('a word too short to be a month is no month, and a later one- or two-digit number is not the day', () => {
    expect(parseCookieDate('15 x Aug 2027 10:11:12')).toBe(AUG_15);
    expect(parseCookieDate('15 Ju Aug 2027 10:11:12')).toBe(AUG_15);
    expect(parseCookieDate('15 Aug 2027 10:11:12 3')).toBe(AUG_15);
    expect(parseCookieDate('15 Aug 2027 10:11:12 99')).toBe(AUG_15);
  });
});
