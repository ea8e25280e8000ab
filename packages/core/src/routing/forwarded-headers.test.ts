// X-Forwarded-* as the upstream gets them: the client's own chain only when the framework trusted it.

import { request } from '../testing/requests';
import { forwardedHeaders } from './forwarded-headers';

describe('forwardedHeaders', () => {
  test("a trusted proxy's chain is kept and the peer appended; an untrusted one is replaced by the client IP", () => {
    const trusted = request({
      ip: '198.51.100.9',
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': ['198.51.100.9', '10.0.0.4'] as never },
    });
    expect(forwardedHeaders(trusted, false)['x-forwarded-for']).toBe('198.51.100.9, 10.0.0.4, 10.0.0.5');
    const spoofed = request({
      ip: '203.0.113.7',
      remoteAddress: '203.0.113.7',
      headers: { 'x-forwarded-for': '6.6.6.6' },
    });
    expect(forwardedHeaders(spoofed, false)['x-forwarded-for']).toBe('203.0.113.7');
    const unknownPeer = request({ ip: '203.0.113.7', headers: { 'x-forwarded-for': '6.6.6.6' } });
    expect(forwardedHeaders(unknownPeer, false)['x-forwarded-for']).toBe('203.0.113.7');
    const noChain = request({ ip: '198.51.100.9', remoteAddress: '10.0.0.5' });
    expect(forwardedHeaders(noChain, false)['x-forwarded-for']).toBe('198.51.100.9');
  });

  test('proto, host (from :authority over HTTP/2), and the rerouted mark', () => {
    expect(forwardedHeaders(request({ secure: true, headers: { host: 'app.example' } }), true)).toEqual({
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example',
      'x-sticky-rerouted': '1',
    });
    expect(forwardedHeaders(request({ headers: { ':authority': 'h2.example' } }), false)).toEqual({
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'h2.example',
    });
    expect(forwardedHeaders(request(), false)).not.toHaveProperty('x-forwarded-host');
  });
});
