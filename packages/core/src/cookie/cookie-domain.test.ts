// A Domain attribute as Chromium reads it, for the bytes node hands over: header values arrive as latin1,
// so a UTF-8 domain is read back as UTF-8 when its bytes are valid UTF-8, and taken as latin1 otherwise.

import { cookieDomain, isTrustworthyHost, requestHost } from './cookie-domain';

const HOST = 'www.xn--bcher-kva.de';

describe('cookieDomain with a non-ASCII Domain', () => {
  it('reads UTF-8 bytes (as node hands them over, one latin1 character per byte) as the UTF-8 name', () => {
    const asNodeSees = Buffer.from('bücher.de', 'utf8').toString('latin1');
    expect(asNodeSees).not.toBe('bücher.de');
    expect(cookieDomain(asNodeSees, HOST)).toBe('xn--bcher-kva.de');
  });

  it('reads bytes that are not UTF-8 as latin1 characters', () => {
    // 'ü' as one latin1 byte (0xFC) is not valid UTF-8.
    expect(cookieDomain('b\u00fccher.de', HOST)).toBe('xn--bcher-kva.de');
  });

  it('an ASCII domain is untouched by the UTF-8 reading', () => {
    expect(cookieDomain('.XN--BCHER-KVA.de', HOST)).toBe('xn--bcher-kva.de');
    expect(cookieDomain('other.de', HOST)).toBeNull();
  });
});

describe('cookieDomain and isTrustworthyHost at their edges', () => {
  it('an empty Domain attribute is a host-only cookie', () => {
    expect(cookieDomain('', HOST)).toBe('');
  });

  it('localhost, *.localhost and loopback addresses are trustworthy, with or without a trailing dot', () => {
    for (const host of [
      'localhost',
      'localhost.',
      'app.localhost',
      'app.localhost.',
      '127.0.0.1',
      '127.0.0.1.',
      '127.1.2.3',
      '127.100.200.255',
      '[::1]',
    ])
      expect([host, isTrustworthyHost(host)]).toEqual([host, true]);
    for (const host of [
      'example.org',
      'localhost.example.org',
      'localhostx',
      '128.0.0.1',
      '[::2]',
      '.',
      'x127.0.0.1',
      '127.0.0.1x',
      '127.0.0.1000',
      '127.0.0',
      '127.100.100.100x',
    ])
      expect([host, isTrustworthyHost(host)]).toEqual([host, false]);
  });
});

describe('requestHost', () => {
  it('drops the port, keeps the brackets of an IPv6 literal, lower-cases', () => {
    expect(requestHost('Example.ORG:8443')).toBe('example.org');
    expect(requestHost('example.org')).toBe('example.org');
    expect(requestHost('[::1]:8080')).toBe('[::1]');
    expect(requestHost('[ABCD::1]')).toBe('[abcd::1]');
    // A bracket never closed: the whole authority, as the browser would not have sent it.
    expect(requestHost('[::1')).toBe('[::1');
  });
});

describe('cookieDomain refuses what Chromium refuses', () => {
  it('two leading dots, a lone dot, and a name that is no domain', () => {
    expect(cookieDomain('..xn--bcher-kva.de', HOST)).toBeNull();
    expect(cookieDomain('.', HOST)).toBeNull();
    expect(cookieDomain('exa mple.de', HOST)).toBeNull();
  });

  it('an IPv6 literal names only itself, in any case', () => {
    expect(cookieDomain('[ABCD::1]', '[abcd::1]')).toBe('');
    expect(cookieDomain('[abcd::2]', '[abcd::1]')).toBeNull();
  });
});
