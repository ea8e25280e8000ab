// trustProxy means what Express's `trust proxy` means: Express itself is the oracle. One real Express app on
// 127.0.0.1 answers, for every request, its own req.ip/req.secure next to clientIp/isSecure compiled from the
// same setting, over a matrix of settings and X-Forwarded-* chains; then the bad settings.

import type { AddressInfo } from 'node:net';
import { StickyConfigError } from '@stickyroute/core';
import express from 'express';
import { clientIp, compileTrustProxy, isSecure, type TrustProxy } from './client-address';

const TRUSTS: TrustProxy[] = [
  false,
  true,
  0,
  1,
  2,
  3,
  'loopback',
  '127.0.0.1',
  'loopback, 10.0.0.0/8',
  ['loopback', '10.0.0.5'],
  'uniquelocal',
  'linklocal',
  '10.0.0.0/8',
  '::ffff:127.0.0.1',
  (address: string, hop: number) => hop === 0 || address === '10.0.0.6',
];

const FORWARDED_FOR = [
  undefined,
  '203.0.113.9',
  '203.0.113.9, 10.0.0.5',
  '203.0.113.9, 10.0.0.5, 10.0.0.6',
  '198.51.100.1 ,10.0.0.6',
  'not-an-ip, 10.0.0.5',
  '2001:db8::1, 10.0.0.5',
  '',
];
const FORWARDED_PROTO = [undefined, 'https', 'http', 'https, http', ' https '];

interface Seen {
  express: { ip: string; secure: boolean };
  ours: { ip: string; secure: boolean };
}

const app = express();
let server: ReturnType<typeof app.listen>;
let base: string;
/** The setting under test: Express's own, and the one compiled for clientIp/isSecure. */
let trust: TrustProxy = false;

function setTrust(value: TrustProxy): void {
  trust = value;
  app.set('trust proxy', value);
}

beforeAll(async () => {
  app.get('/', (req, res) => {
    const compiled = compileTrustProxy(trust);
    res.json({
      express: { ip: req.ip ?? '', secure: req.secure },
      ours: { ip: clientIp(req, compiled), secure: isSecure(req, compiled) },
    } satisfies Seen);
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((ready) => server.once('listening', ready));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(() => new Promise((done) => server.close(done)));

async function ask(headers: Record<string, string>): Promise<Seen> {
  const response = await fetch(base, { headers });
  return (await response.json()) as Seen;
}

function label(value: TrustProxy): string {
  return typeof value === 'function' ? 'a function' : JSON.stringify(value);
}

describe('trustProxy reads X-Forwarded-For and -Proto exactly as Express does', () => {
  test.each(TRUSTS.map((value) => [label(value), value] as const))('trust proxy = %s', async (_, value) => {
    setTrust(value);
    for (const forwardedFor of FORWARDED_FOR) {
      for (const forwardedProto of FORWARDED_PROTO) {
        const headers: Record<string, string> = {};
        if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
        if (forwardedProto !== undefined) headers['x-forwarded-proto'] = forwardedProto;
        const seen = await ask(headers);
        expect({ headers, ...seen.ours }).toEqual({ headers, ...seen.express });
      }
    }
  });

  test('the matrix tells the settings apart (it would catch a trust that reads nothing)', async () => {
    const chain = { 'x-forwarded-for': '203.0.113.9, 10.0.0.5, 10.0.0.6', 'x-forwarded-proto': 'https' };
    const seen: Record<string, { ip: string; secure: boolean }> = {};
    for (const value of [false, true, 1, 2, 'loopback, 10.0.0.0/8', 'uniquelocal'] as TrustProxy[]) {
      setTrust(value);
      seen[label(value)] = (await ask(chain)).ours;
    }
    expect(seen).toEqual({
      false: { ip: '127.0.0.1', secure: false },
      true: { ip: '203.0.113.9', secure: true },
      '1': { ip: '10.0.0.6', secure: true },
      '2': { ip: '10.0.0.5', secure: true },
      '"loopback, 10.0.0.0/8"': { ip: '203.0.113.9', secure: true },
      // the peer (127.0.0.1) is not a unique-local address: nothing it says is trusted
      '"uniquelocal"': { ip: '127.0.0.1', secure: false },
    });
  });
});

describe('a bad trustProxy is a StickyConfigError naming the option', () => {
  test.each([
    ['yes', /invalid IP address: yes/],
    ['10.0.0.0/33', /invalid range on address/],
    ['loopback,', /must be true, false, a hop count/],
    ['', /must be true, false, a hop count/],
    [-1, /hops ≥ 0/],
    [1.5, /hops ≥ 0/],
    [[1], /must be true, false, a hop count/],
    [{ trust: true }, /must be true, false, a hop count/],
  ] as [unknown, RegExp][])('%j', (value, message) => {
    let caught: unknown;
    try {
      compileTrustProxy(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StickyConfigError);
    expect((caught as StickyConfigError).option).toBe('trustProxy');
    expect((caught as Error).message).toMatch(message);
  });
});
