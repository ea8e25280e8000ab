// What a user reads when an option is wrong: the option's path, what it must be, and the value given, shown as
// JSON (strings quoted, objects spelled out; a value JSON cannot spell, by its kind). Pinned whole, because the
// message is the whole of the answer a user gets at start-up.

import { StickyConfigError } from './errors';
import { normalizeOptions } from './options';

const B = ['http://10.0.0.1:8080'];
const KNOWN =
  'backends, algorithm, stickiness, cookie, strict, secret, healthCheck, slowStart, store, storeSize, timeout, retryAfter, logger';
const ALGORITHMS = "'round-robin', 'least-connections', 'random', 'power-of-two', 'source-ip-hash'";
const TYPES = "'lb-cookie', 'app-cookie', 'source-ip', 'header', 'query'";

function problem(options: unknown): [string, string] {
  try {
    normalizeOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(StickyConfigError);
    const message = (error as Error).message;
    const option = (error as StickyConfigError).option;
    expect(message.startsWith(`stickyroute: option \`${option}\` `)).toBe(true);
    return [option, message.slice(`stickyroute: option \`${option}\` `.length)];
  }
  throw new Error(`accepted: ${JSON.stringify(options)}`);
}

const cycle: unknown[] = [];
cycle.push(cycle);

describe('StickyConfigError messages', () => {
  it.each<[string, unknown, string, string]>([
    ['options that are not an object', 'x', 'options', 'must be an object (got "x")'],
    ['an unknown option', { backends: B, bogus: 1 }, 'bogus', `is not a known option (known: ${KNOWN})`],
    [
      'backends that are not a list',
      { backends: 'http://x' },
      'backends',
      'must be a list of backends (got "http://x")',
    ],
    [
      'a backend that is a number',
      { backends: [42] },
      'backends[0]',
      'must be a URL string or { url, id?, weight? } (got 42)',
    ],
    [
      'a backend that is a list',
      { backends: [[1, 'a']] },
      'backends[0]',
      'must be a URL string or { url, id?, weight? } (got [1,"a"])',
    ],
    [
      'an unknown backend key',
      { backends: [{ url: 'http://a', wieght: 2 }] },
      'backends[0].wieght',
      'is not a known option (known: url, id, weight)',
    ],
    [
      'an ftp URL',
      { backends: ['ftp://x'] },
      'backends[0].url',
      'must be an http: or https: URL (got "ftp://x")',
    ],
    [
      'a weight of 0',
      { backends: [{ url: 'http://a', weight: 0 }] },
      'backends[0].weight',
      'must be an integer ≥ 1 (got 0)',
    ],
    [
      'a fractional weight',
      { backends: [{ url: 'http://a', weight: 1.5 }] },
      'backends[0].weight',
      'must be an integer ≥ 1 (got 1.5)',
    ],
    [
      'a weight given as text',
      { backends: [{ url: 'http://a', weight: '2' }] },
      'backends[0].weight',
      'must be an integer ≥ 1 (got "2")',
    ],
    [
      'an empty id',
      { backends: [{ url: 'http://a', id: '' }] },
      'backends[0].id',
      'must be a non-empty string (got "")',
    ],
    [
      'an id that is not text',
      { backends: [{ url: 'http://a', id: 7 }] },
      'backends[0].id',
      'must be a non-empty string (got 7)',
    ],
    [
      'an unknown algorithm',
      { backends: B, algorithm: 'fastest' },
      'algorithm',
      `must be one of ${ALGORITHMS} (got "fastest")`,
    ],
    [
      'an algorithm that is not text',
      { backends: B, algorithm: 3 },
      'algorithm',
      `must be one of ${ALGORITHMS} (got 3)`,
    ],
    [
      'stickiness as a string',
      { backends: B, stickiness: 'lb-cookie' },
      'stickiness',
      'must be false or an object with a `type` (got "lb-cookie")',
    ],
    [
      'stickiness as true',
      { backends: B, stickiness: true },
      'stickiness',
      'must be false or an object with a `type` (got true)',
    ],
    [
      'stickiness JSON cannot spell',
      { backends: B, stickiness: cycle },
      'stickiness',
      'must be false or an object with a `type` (got [object Array])',
    ],
    [
      'stickiness without a type',
      { backends: B, stickiness: {} },
      'stickiness.type',
      `is required: one of ${TYPES}`,
    ],
    [
      'an unknown stickiness type',
      { backends: B, stickiness: { type: 'sticky' } },
      'stickiness.type',
      `must be one of ${TYPES} (got "sticky")`,
    ],
    [
      'a maxLifetime over a year',
      { backends: B, stickiness: { type: 'lb-cookie', maxLifetime: '366d' } },
      'stickiness.maxLifetime',
      'must be between 1m and 8760h (got "366d")',
    ],
    [
      'a header name with a space',
      { backends: B, stickiness: { type: 'header', header: 'x y' } },
      'stickiness.header',
      'is not a valid header name (got "x y")',
    ],
    [
      'a key header mode does not know',
      { backends: B, stickiness: { type: 'header', header: 'x', param: 'y' } },
      'stickiness.param',
      'is not a known option (known: type, header, duration)',
    ],
    [
      'persistent as text',
      { backends: B, cookie: { persistent: 'yes' } },
      'cookie.persistent',
      'must be true or false (got "yes")',
    ],
    [
      'an empty cookie name',
      { backends: B, cookie: { name: '' } },
      'cookie.name',
      'must be a non-empty string (got "")',
    ],
    ['a store size of 0', { backends: B, storeSize: 0 }, 'storeSize', 'must be an integer ≥ 1 (got 0)'],
    [
      'a store size given as text',
      { backends: B, storeSize: '10' },
      'storeSize',
      'must be an integer ≥ 1 (got "10")',
    ],
    [
      'a query-key duration over an hour',
      { backends: B, stickiness: { type: 'query', param: 'k', duration: '2h' } },
      'stickiness.duration',
      'must be between 1m and 1h (got "2h")',
    ],
    [
      'a store size that is not a number',
      { backends: B, storeSize: Number.NaN },
      'storeSize',
      'must be an integer ≥ 1 (got NaN)',
    ],
    [
      'a cookie option that is not an object',
      { backends: B, cookie: 'x' },
      'cookie',
      'must be an object (got "x")',
    ],
    [
      'a cookie name with a space',
      { backends: B, cookie: { name: 'a b' } },
      'cookie.name',
      'is not a valid cookie name (got "a b")',
    ],
    [
      'a cookie path without its slash',
      { backends: B, cookie: { path: 'api' } },
      'cookie.path',
      `must start with / and hold only visible ASCII, no ';' (got "api")`,
    ],
    [
      'an empty cookie path',
      { backends: B, cookie: { path: '' } },
      'cookie.path',
      'must be a non-empty string (got "")',
    ],
    [
      'a cookie domain with a port',
      { backends: B, cookie: { domain: 'example.com:80' } },
      'cookie.domain',
      `must be a host name such as 'example.com' or '.example.com', no port (got "example.com:80")`,
    ],
    [
      'an empty cookie domain',
      { backends: B, cookie: { domain: '' } },
      'cookie.domain',
      'must be a non-empty string (got "")',
    ],
    [
      'cookie.secure as text',
      { backends: B, cookie: { secure: 'yes' } },
      'cookie.secure',
      'must be true or false (got "yes")',
    ],
    [
      'healthCheck as text',
      { backends: B, healthCheck: 'x' },
      'healthCheck',
      'must be true, false or an object (got "x")',
    ],
    [
      'a health path without its slash',
      { backends: B, healthCheck: { path: 'health' } },
      'healthCheck.path',
      'must start with / (got "health")',
    ],
    [
      'an empty health path',
      { backends: B, healthCheck: { path: '' } },
      'healthCheck.path',
      'must be a non-empty string (got "")',
    ],
    [
      'healthCheck.active as text',
      { backends: B, healthCheck: { active: 'yes' } },
      'healthCheck.active',
      'must be true or false (got "yes")',
    ],
    [
      'a probe timeout longer than its interval',
      { backends: B, healthCheck: { interval: '1s', timeout: '2s' } },
      'healthCheck.timeout',
      'must not be longer than healthCheck.interval',
    ],
    [
      'a matcher of a status class',
      { backends: B, healthCheck: { matcher: '2xx' } },
      'healthCheck.matcher',
      `must be status codes such as '200-399' or '200,204' (got "2xx")`,
    ],
    [
      'a matcher with words after it',
      { backends: B, healthCheck: { matcher: '200 x' } },
      'healthCheck.matcher',
      `must be status codes such as '200-399' or '200,204' (got "200 x")`,
    ],
    [
      'a matcher with words before it',
      { backends: B, healthCheck: { matcher: 'x200' } },
      'healthCheck.matcher',
      `must be status codes such as '200-399' or '200,204' (got "x200")`,
    ],
    [
      'an empty matcher',
      { backends: B, healthCheck: { matcher: '' } },
      'healthCheck.matcher',
      'must be a non-empty string (got "")',
    ],
    [
      'a secret that is a number',
      { backends: B, secret: 42 },
      'secret',
      'must be a string of at least 16 characters',
    ],
    [
      'an empty list of secrets',
      { backends: B, secret: [] },
      'secret',
      'must be a string or a non-empty list of strings',
    ],
    [
      'a secret of 15 characters',
      { backends: B, secret: 'x'.repeat(15) },
      'secret',
      'must be a string of at least 16 characters',
    ],
    [
      'a short old secret',
      { backends: B, secret: ['x'.repeat(16), 'short'] },
      'secret[1]',
      'must be a string of at least 16 characters',
    ],
    [
      'a store without its methods',
      { backends: B, store: {} },
      'store',
      'must be a StickyStore (get, setIfAbsent, set, delete)',
    ],
    [
      'a logger without warn',
      { backends: B, logger: {} },
      'logger',
      'must be an object with a warn(message) method',
    ],
    [
      'a logger that is text',
      { backends: B, logger: 'x' },
      'logger',
      'must be an object with a warn(message) method',
    ],
    [
      'a route separator of ;',
      { backends: B, stickiness: { type: 'app-cookie', appCookie: 'J', mode: 'route', routeSeparator: ';' } },
      'stickiness.routeSeparator',
      'must be 1 to 8 visible ASCII characters other than ; , = / ? # " \\ (got ";")',
    ],
    [
      'a keyed duration over an hour',
      { backends: B, stickiness: { type: 'header', header: 'x', duration: '2h' } },
      'stickiness.duration',
      'must be between 1m and 1h (got "2h")',
    ],
  ])('%s', (_name, options, option, message) => {
    expect(problem(options)).toEqual([option, message]);
  });

  it("an adapter's own options are listed among the known ones", () => {
    let message = '';
    try {
      normalizeOptions({ backends: B, bogus: 1 }, ['prefix', 'tls']);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      `stickyroute: option \`bogus\` is not a known option (known: ${KNOWN}, prefix, tls)`,
    );
    expect(() => normalizeOptions({ backends: B, prefix: '/api' }, ['prefix'])).not.toThrow();
  });

  it('health checks are active when a path or an interval is given, or when asked; cookie.secure auto stays auto', () => {
    expect(normalizeOptions({ backends: B, healthCheck: {} }).healthCheck!.active).toBe(false);
    expect(normalizeOptions({ backends: B, healthCheck: { path: '/h' } }).healthCheck!.active).toBe(true);
    expect(normalizeOptions({ backends: B, healthCheck: { interval: '5s' } }).healthCheck!.active).toBe(true);
    expect(normalizeOptions({ backends: B, healthCheck: { active: true } }).healthCheck!.active).toBe(true);
    expect(
      normalizeOptions({ backends: B, healthCheck: { path: '/h', active: false } }).healthCheck!.active,
    ).toBe(false);
    expect(normalizeOptions({ backends: B, cookie: { secure: 'auto' } }).cookie.secure).toBe('auto');
    expect(normalizeOptions({ backends: B }).cookie.secure).toBe('auto');
    expect(normalizeOptions({ backends: B, cookie: { secure: false } }).cookie.secure).toBe(false);
    expect(normalizeOptions({ backends: B, secret: 'x'.repeat(16) }).secrets).toEqual(['x'.repeat(16)]);
    // No stickiness, said three ways; a status range with spaces around its dash.
    for (const stickiness of [false, null, undefined])
      expect(normalizeOptions({ backends: B, stickiness }).stickiness).toEqual({ type: 'off' });
    expect(() => normalizeOptions({ backends: B, healthCheck: { matcher: '200 - 204, 301' } })).not.toThrow();
  });

  it('takes the longest maxLifetime (a year) and a store of one entry', () => {
    expect(() =>
      normalizeOptions({ backends: B, stickiness: { type: 'lb-cookie', maxLifetime: '365d' }, storeSize: 1 }),
    ).not.toThrow();
  });
});
