// Hop-by-hop headers stop at the gateway, and the gateway's own headers are never the client's.

import {
  copyDownstreamHeaders,
  copyUpstreamHeaders,
  nominatedByConnection,
  prepareUpstreamHeaders,
  stripHopByHop,
} from './hop-by-hop';

describe('stripHopByHop', () => {
  it('drops hop-by-hop headers and those Connection names, never framing or Host', () => {
    const headers = {
      connection: 'keep-alive, X-Trace, Host, Content-Length',
      'keep-alive': 'timeout=5',
      'x-trace': '1',
      te: 'trailers',
      host: 'gw',
      'content-length': '3',
      'transfer-encoding': 'chunked',
      accept: '*/*',
    };
    expect(stripHopByHop(headers)).toEqual({
      host: 'gw',
      'content-length': '3',
      'transfer-encoding': 'chunked',
      accept: '*/*',
    });
  });

  it('drops transfer-encoding for engines that frame bodies themselves', () => {
    expect(stripHopByHop({ 'transfer-encoding': 'chunked', a: '1' }, { dropFraming: true })).toEqual({
      a: '1',
    });
  });

  it('keeps a WebSocket upgrade’s own two headers', () => {
    const headers = { connection: 'keep-alive, Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' };
    expect(stripHopByHop(headers, { upgrade: true })).toEqual({
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'k',
    });
  });

  it('the usual Connection values nominate nothing', () => {
    for (const value of ['keep-alive', 'close', 'Upgrade', undefined, 42])
      expect(nominatedByConnection(value)).toEqual([]);
    expect(nominatedByConnection(['close', 'X-A'])).toEqual(['close', 'x-a']);
  });
});

test('prepareUpstreamHeaders replaces what a client claimed under the gateway’s names', () => {
  const headers = {
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-host': 'evil',
    'x-sticky-rerouted': '1',
    expect: '100-continue',
    cookie: 'a=b',
  };
  expect(
    prepareUpstreamHeaders(headers, { 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'http' }),
  ).toEqual({
    cookie: 'a=b',
    'x-forwarded-for': '10.0.0.9',
    'x-forwarded-proto': 'http',
  });
});

test('copyUpstreamHeaders builds what prepareUpstreamHeaders makes in place, leaving the original alone', () => {
  const cases: Array<[Record<string, string | string[]>, { upgrade?: boolean; dropFraming?: boolean }]> = [
    [{ host: 'a', cookie: 'x=1', connection: 'keep-alive', 'keep-alive': 'timeout=5' }, {}],
    [{ host: 'a', connection: 'close, X-Trace', 'x-trace': '1', 'x-forwarded-for': '6.6.6.6' }, {}],
    [
      { host: 'a', 'transfer-encoding': 'chunked', te: 'trailers', expect: '100-continue' },
      { dropFraming: true },
    ],
    [{ host: 'a', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' }, { upgrade: true }],
    [{ host: 'a', 'set-cookie': ['a=1', 'b=2'], 'x-sticky-rerouted': '1' }, {}],
  ];
  const route = { 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a' };
  for (const [headers, options] of cases) {
    const before = structuredClone(headers);
    const copy = copyUpstreamHeaders(headers, route, options);
    expect(headers).toEqual(before);
    expect(copy).toEqual(prepareUpstreamHeaders(structuredClone(headers), route, options));
  }
});

test('copyDownstreamHeaders builds what stripHopByHop makes in place, leaving the original alone', () => {
  const cases: Array<[Record<string, string | string[]>, { dropFraming?: boolean }]> = [
    [{ server: 'nginx', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'content-length': '3' }, {}],
    [{ connection: 'close, X-Trace', 'x-trace': '1', 'x-forwarded-for': 'kept: the app said it' }, {}],
    [
      { 'transfer-encoding': 'chunked', trailer: 'x-digest', 'set-cookie': ['a=1', 'b=2'] },
      { dropFraming: true },
    ],
    [{ 'transfer-encoding': 'chunked', upgrade: 'h2c' }, {}],
  ];
  for (const [headers, options] of cases) {
    const before = structuredClone(headers);
    const copy = copyDownstreamHeaders(headers, options);
    expect(headers).toEqual(before);
    expect(copy).toEqual(stripHopByHop(structuredClone(headers), options));
  }
  expect(copyDownstreamHeaders({ a: '1', connection: 'close' })).toEqual({ a: '1' });
});

describe('HTTP/2 pseudo-headers', () => {
  it('are hidden from every copy of the headers, yet still readable by name (the compatibility request needs them)', () => {
    const headers: Record<string, string> = {
      ':method': 'GET',
      ':path': '/a?b',
      ':authority': 'example.org',
      accept: 'text/html',
    };
    prepareUpstreamHeaders(headers, { 'x-forwarded-for': '203.0.113.7' });
    expect({ ...headers }).toEqual({ accept: 'text/html', 'x-forwarded-for': '203.0.113.7' });
    expect(Object.keys(headers)).toEqual(['accept', 'x-forwarded-for']);
    expect(headers[':method']).toBe('GET');
    expect(headers[':path']).toBe('/a?b');
    // Still writable: node's compatibility layer may set them again.
    headers[':path'] = '/c';
    expect(headers[':path']).toBe('/c');
    expect(Object.keys(headers)).not.toContain(':path');
  });
});

describe('what only requests lose', () => {
  it("a response keeps the headers a client may not claim about itself (they are the app's to send)", () => {
    const headers = {
      forwarded: 'for=1.2.3.4',
      'x-real-ip': '1.2.3.4',
      x_forwarded_for: '5.6.7.8',
      accept: 'a',
    };
    expect(stripHopByHop({ ...headers })).toStrictEqual(headers);
    expect(copyDownstreamHeaders(headers)).toStrictEqual(headers);
  });

  it('a request loses the underscore spellings of claims and gateway headers, and keeps other underscores', () => {
    const out = copyUpstreamHeaders(
      { x_forwarded_for: '5.6.7.8', x_real_ip: '1', x_custom_id: '42', 'x-undefined': undefined },
      {},
    );
    expect(out).toStrictEqual({ x_custom_id: '42' });
  });
});
