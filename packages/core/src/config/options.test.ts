// Start-up validation: every bad option is a StickyConfigError whose message and `.option` name it,
// and good options come out fully defaulted.

import { createStickyRouter } from '../router';
import { parseDuration } from './duration';
import { StickyConfigError } from './errors';
import { normalizeOptions, normalizeStickiness } from './options';

const BACKENDS = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'];
const SECRET = 'a-test-secret-of-enough-length';
const noop = async (): Promise<undefined> => undefined;

/** Asserts that `fn` throws a StickyConfigError naming `option` in `.option` and in its message. */
function expectConfigError(fn: () => unknown, option: string, hint?: RegExp): StickyConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(StickyConfigError);
  const error = caught as StickyConfigError;
  expect(error.name).toBe('StickyConfigError');
  expect(error.option).toBe(option);
  expect(error.message).toContain(`\`${option}\``);
  if (hint) expect(error.message).toMatch(hint);
  return error;
}

function withOptions(extra: Record<string, unknown>) {
  return () => normalizeOptions({ backends: BACKENDS, secret: SECRET, ...extra });
}

describe('backends', () => {
  it('accepts strings and objects, defaulting id to the URL as given and weight to 1', () => {
    const o = normalizeOptions({
      backends: ['http://10.0.0.1:8080', { url: 'https://b.internal', id: 'b', weight: 3 }],
    });
    expect(o.backends.map(({ id, weight }) => ({ id, weight }))).toEqual([
      { id: 'http://10.0.0.1:8080', weight: 1 },
      { id: 'b', weight: 3 },
    ]);
    expect(o.backends[1]!.url.href).toBe('https://b.internal/');
  });

  it.each([
    ['not a url', 'backends[0].url', /valid URL/],
    ['', 'backends[0].url', /valid URL/],
    ['ftp://10.0.0.1/', 'backends[0].url', /http: or https:/],
    ['file:///etc/passwd', 'backends[0].url', /http: or https:/],
    ['javascript:alert(1)', 'backends[0].url', /http: or https:/],
  ])('rejects the URL %j', (url, option, hint) => {
    expectConfigError(() => normalizeOptions({ backends: [url] }), option, hint);
  });

  it.each([
    ['http://10.0.0.1:8080/app', 'http://10.0.0.1:8080'],
    ['http://10.0.0.1:8080/app/', 'http://10.0.0.1:8080'],
    ['https://b.internal/?x=1', 'https://b.internal'],
    ['http://10.0.0.1:8080/#top', 'http://10.0.0.1:8080'],
  ])('refuses the path, query or fragment of %j, suggesting the origin', (url, origin) => {
    const error = expectConfigError(() => normalizeOptions({ backends: [url] }), 'backends[0].url', /origin/);
    expect(error.message).toContain(JSON.stringify(origin));
  });

  it('refuses credentials in a backend URL without echoing them', () => {
    const error = expectConfigError(
      () => normalizeOptions({ backends: [BACKENDS[0], 'http://admin:hunter2@10.0.0.3:8080'] }),
      'backends[1].url',
      /credentials/,
    );
    expect(error.message).not.toContain('hunter2');
  });

  it('takes an origin with or without its trailing slash, at start-up and at run time', () => {
    const o = normalizeOptions({ backends: ['http://10.0.0.1:8080/', 'https://[::1]:8443'] });
    expect(o.backends.map((b) => b.url.origin)).toEqual(['http://10.0.0.1:8080', 'https://[::1]:8443']);
    const router = createStickyRouter({ backends: BACKENDS });
    expectConfigError(() => router.pool.add('http://10.0.0.3:8080/app'), 'backend.url', /origin/);
    router.close();
  });

  it('warns once that an empty backend list answers 503 until one is added (service discovery)', async () => {
    const warnings: string[] = [];
    const router = createStickyRouter({ backends: [], logger: { warn: (m) => warnings.push(m) } });
    expect(warnings).toEqual([expect.stringMatching(/`backends` is empty.*503.*pool\.add/)]);
    const request = { method: 'GET', url: '/', headers: {}, ip: '10.1.1.1', secure: false };
    expect((await router.route(request)).backend).toBeNull();
    router.pool.add(BACKENDS[0]!);
    expect((await router.route(request)).backend?.origin).toBe(BACKENDS[0]);
    createStickyRouter({ backends: BACKENDS, logger: { warn: (m) => warnings.push(m) } }).close();
    expect(warnings).toHaveLength(1);
    router.close();
  });

  it('rejects a backend object without a url, with an unknown key, or of the wrong type', () => {
    expectConfigError(() => normalizeOptions({ backends: [BACKENDS[0], { id: 'x' }] }), 'backends[1].url');
    expectConfigError(
      () => normalizeOptions({ backends: [{ url: BACKENDS[0], wieght: 2 }] }),
      'backends[0].wieght',
      /not a known option/,
    );
    expectConfigError(() => normalizeOptions({ backends: [42] }), 'backends[0]');
    expectConfigError(() => normalizeOptions({ backends: [null] }), 'backends[0]');
    expectConfigError(() => normalizeOptions({ backends: 'http://10.0.0.1' }), 'backends', /list/);
    expectConfigError(() => normalizeOptions({}), 'backends');
  });

  it('rejects duplicate ids, explicit or from identical URLs', () => {
    expectConfigError(
      () => normalizeOptions({ backends: [BACKENDS[0], BACKENDS[1], BACKENDS[0]] }),
      'backends[2].id',
      /duplicates/,
    );
    expectConfigError(
      () =>
        normalizeOptions({
          backends: [
            { url: BACKENDS[0], id: 'same' },
            { url: BACKENDS[1], id: 'same' },
          ],
        }),
      'backends[1].id',
    );
    expectConfigError(
      () => normalizeOptions({ backends: [{ url: BACKENDS[0], id: '  ' }] }),
      'backends[0].id',
    );
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', null])(
    'rejects the weight %p',
    (weight) => {
      expectConfigError(
        () => normalizeOptions({ backends: [BACKENDS[0], { url: BACKENDS[1], weight }] }),
        'backends[1].weight',
        /integer/,
      );
    },
  );
});

describe('stickiness', () => {
  it('defaults to off, and false/undefined are off', () => {
    expect(normalizeOptions({ backends: BACKENDS }).stickiness).toEqual({ type: 'off' });
    expect(normalizeStickiness(false)).toEqual({ type: 'off' });
  });

  it('lb-cookie: 20 minutes by default, 1 minute to 24 hours accepted, maxLifetime optional', () => {
    expect(normalizeStickiness({ type: 'lb-cookie' })).toEqual({
      type: 'lb-cookie',
      durationMs: 1_200_000,
      maxLifetimeMs: null,
    });
    expect(normalizeStickiness({ type: 'lb-cookie', duration: 60 })).toMatchObject({ durationMs: 60_000 });
    expect(normalizeStickiness({ type: 'lb-cookie', duration: '24h' })).toMatchObject({
      durationMs: 86_400_000,
    });
    expect(normalizeStickiness({ type: 'lb-cookie', duration: '90s', maxLifetime: '8h' })).toMatchObject({
      durationMs: 90_000,
      maxLifetimeMs: 8 * 3_600_000,
    });
    for (const duration of [59, '59s', '500ms', '25h', 86_401, '0', -5, 'soon', '15 minutes', true]) {
      expectConfigError(() => normalizeStickiness({ type: 'lb-cookie', duration }), 'stickiness.duration');
    }
    expectConfigError(
      () => normalizeStickiness({ type: 'lb-cookie', duration: '25h' }),
      'stickiness.duration',
      /between 1m and 24h/,
    );
    expectConfigError(
      () => normalizeStickiness({ type: 'lb-cookie', maxLifetime: '10s' }),
      'stickiness.maxLifetime',
    );
  });

  it('source-ip, header and query: 20 minutes by default, 1 to 60 minutes accepted', () => {
    expect(normalizeStickiness({ type: 'source-ip' })).toEqual({ type: 'source-ip', durationMs: 1_200_000 });
    expect(normalizeStickiness({ type: 'source-ip', duration: '1h' })).toMatchObject({
      durationMs: 3_600_000,
    });
    expect(normalizeStickiness({ type: 'source-ip', duration: '1m' })).toMatchObject({ durationMs: 60_000 });
    for (const duration of ['61m', '2h', '30s', 0]) {
      expectConfigError(
        () => normalizeStickiness({ type: 'source-ip', duration }),
        'stickiness.duration',
        /between 1m and 1h/,
      );
    }
    expect(normalizeStickiness({ type: 'header', header: 'X-API-Key' })).toEqual({
      type: 'header',
      header: 'x-api-key',
      durationMs: 1_200_000,
    });
    expectConfigError(
      () => normalizeStickiness({ type: 'header', header: 'x-api-key', duration: '2h' }),
      'stickiness.duration',
    );
    expectConfigError(() => normalizeStickiness({ type: 'header' }), 'stickiness.header');
    expectConfigError(
      () => normalizeStickiness({ type: 'header', header: 'bad header' }),
      'stickiness.header',
    );
    expect(normalizeStickiness({ type: 'query', param: 'apikey', duration: 300 })).toEqual({
      type: 'query',
      param: 'apikey',
      durationMs: 300_000,
    });
    expectConfigError(() => normalizeStickiness({ type: 'query' }), 'stickiness.param');
  });

  it('app-cookie: follow by default, learn on request; appCookie required and a valid cookie name', () => {
    expect(normalizeStickiness({ type: 'app-cookie', appCookie: 'JSESSIONID' })).toEqual({
      type: 'app-cookie',
      appCookie: 'JSESSIONID',
      mode: 'follow',
    });
    expect(
      normalizeStickiness({ type: 'app-cookie', appCookie: 'connect.sid', mode: 'learn' }),
    ).toMatchObject({
      mode: 'learn',
    });
    expectConfigError(() => normalizeStickiness({ type: 'app-cookie' }), 'stickiness.appCookie');
    expectConfigError(
      () => normalizeStickiness({ type: 'app-cookie', appCookie: '' }),
      'stickiness.appCookie',
    );
    expectConfigError(
      () => normalizeStickiness({ type: 'app-cookie', appCookie: 'a;b' }),
      'stickiness.appCookie',
      /cookie name/,
    );
    expectConfigError(
      () => normalizeStickiness({ type: 'app-cookie', appCookie: 'SID', mode: 'insert' }),
      'stickiness.mode',
    );
  });

  it('app-cookie route: the separator defaults to a dot, is checked, and belongs to route mode only', () => {
    expect(normalizeStickiness({ type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'route' })).toEqual({
      type: 'app-cookie',
      appCookie: 'JSESSIONID',
      mode: 'route',
      routeSeparator: '.',
    });
    const route = (routeSeparator: unknown) =>
      normalizeStickiness({ type: 'app-cookie', appCookie: 'JSESSIONID', mode: 'route', routeSeparator });
    expect(route('~')).toMatchObject({ routeSeparator: '~' });
    expect(route('!')).toMatchObject({ routeSeparator: '!' });
    for (const bad of ['', ';', '=', ',', '/', '?', '#', ' ', 'a b', '123456789', 'é', 7])
      expectConfigError(() => route(bad), 'stickiness.routeSeparator');
    expectConfigError(
      () => normalizeStickiness({ type: 'app-cookie', appCookie: 'JSESSIONID', routeSeparator: '.' }),
      'stickiness.routeSeparator',
      /only to mode 'route'/,
    );
  });

  it('rejects unknown or missing types, unknown keys and non-objects', () => {
    expectConfigError(() => normalizeStickiness({ type: 'ip-hash' }), 'stickiness.type', /one of/);
    expectConfigError(() => normalizeStickiness({ duration: '5m' }), 'stickiness.type');
    expectConfigError(() => normalizeStickiness({}), 'stickiness.type');
    expectConfigError(() => normalizeStickiness(true), 'stickiness');
    expectConfigError(() => normalizeStickiness('lb-cookie'), 'stickiness');
    expectConfigError(
      () => normalizeStickiness({ type: 'lb-cookie', appCookie: 'SID' }),
      'stickiness.appCookie',
      /not a known option/,
    );
    expectConfigError(() => normalizeStickiness({ type: 'source-ip', header: 'x' }), 'stickiness.header');
  });
});

describe('the other options', () => {
  it('fills every default', () => {
    const o = normalizeOptions({ backends: BACKENDS });
    expect(o).toMatchObject({
      algorithm: 'round-robin',
      cookie: {
        name: 'STICKY',
        path: '/',
        domain: undefined,
        httpOnly: true,
        secure: 'auto',
        sameSite: 'Lax',
        cors: false,
        persistent: true,
      },
      strict: false,
      secrets: null,
      slowStartMs: 0,
      timeoutMs: 30_000,
      retryAfter: 5,
      storeSize: 100_000,
      healthCheck: {
        active: false,
        path: '/',
        intervalMs: 30_000,
        timeoutMs: 5_000,
        healthyThreshold: 5,
        unhealthyThreshold: 2,
        maxFailures: 3,
        cooldownMs: 10_000,
      },
    });
    expect(o.healthCheck.isHealthyStatus(200)).toBe(true);
    expect(o.healthCheck.isHealthyStatus(399)).toBe(true);
    expect(o.healthCheck.isHealthyStatus(404)).toBe(false);
  });

  it("refuses sameSite 'None' with secure: false (browsers drop it), and accepts it with Secure or 'auto'", () => {
    expectConfigError(
      withOptions({ cookie: { sameSite: 'None', secure: false } }),
      'cookie.sameSite',
      /Secure.*cookie\.secure is false/,
    );
    expect(normalizeOptions({ backends: BACKENDS, cookie: { sameSite: 'None' } }).cookie.secure).toBe('auto');
    expect(
      normalizeOptions({ backends: BACKENDS, cookie: { sameSite: 'None', secure: true } }).cookie.sameSite,
    ).toBe('None');
    expect(
      normalizeOptions({ backends: BACKENDS, cookie: { sameSite: 'Lax', secure: false } }).cookie.secure,
    ).toBe(false);
  });

  it('rejects unknown option names, naming them', () => {
    expectConfigError(withOptions({ stickyness: false }), 'stickyness', /not a known option/);
    expectConfigError(withOptions({ cookie: { nmae: 'X' } }), 'cookie.nmae');
    expectConfigError(withOptions({ healthCheck: { intervall: 5 } }), 'healthCheck.intervall');
    expect(() => normalizeOptions({ backends: BACKENDS, proxyTimeout: 5 }, ['proxyTimeout'])).not.toThrow();
    expectConfigError(() => normalizeOptions(null), 'options');
  });

  it.each([
    [{ algorithm: 'least-conn' }, 'algorithm'],
    [{ strict: 'yes' }, 'strict'],
    [{ secret: 'short' }, 'secret'],
    [{ secret: [] }, 'secret'],
    [{ secret: [SECRET, 42] }, 'secret[1]'],
    [{ secret: [SECRET, 'tiny'] }, 'secret[1]'],
    [{ cookie: 'STICKY' }, 'cookie'],
    [{ cookie: { name: 'bad name' } }, 'cookie.name'],
    [{ cookie: { name: '' } }, 'cookie.name'],
    [{ cookie: { path: 'app' } }, 'cookie.path'],
    [{ cookie: { path: '/a;b' } }, 'cookie.path'],
    [{ cookie: { domain: 'a.com; Secure' } }, 'cookie.domain'],
    [{ cookie: { domain: 'foo_bar.example' } }, 'cookie.domain'],
    [{ cookie: { domain: 'localhost:8080' } }, 'cookie.domain'],
    [{ cookie: { path: '/ü' } }, 'cookie.path'],
    [{ cookie: { sameSite: 'lax' } }, 'cookie.sameSite'],
    [{ cookie: { sameSite: 'Sometimes' } }, 'cookie.sameSite'],
    [{ cookie: { secure: 'always' } }, 'cookie.secure'],
    [{ cookie: { httpOnly: 1 } }, 'cookie.httpOnly'],
    [{ cookie: { cors: 'true' } }, 'cookie.cors'],
    [{ cookie: { persistent: 0 } }, 'cookie.persistent'],
    [{ healthCheck: 'on' }, 'healthCheck'],
    [{ healthCheck: { path: 'health' } }, 'healthCheck.path'],
    [{ healthCheck: { interval: '10ms' } }, 'healthCheck.interval'],
    [{ healthCheck: { interval: '10s', timeout: '20s' } }, 'healthCheck.timeout'],
    [{ healthCheck: { healthyThreshold: 0 } }, 'healthCheck.healthyThreshold'],
    [{ healthCheck: { unhealthyThreshold: 1.5 } }, 'healthCheck.unhealthyThreshold'],
    [{ healthCheck: { matcher: '2xx' } }, 'healthCheck.matcher'],
    [{ healthCheck: { maxFailures: -1 } }, 'healthCheck.maxFailures'],
    [{ healthCheck: { cooldown: '2h' } }, 'healthCheck.cooldown'],
    [{ slowStart: '2h' }, 'slowStart'],
    [{ timeout: 'never' }, 'timeout'],
    [{ timeout: 0 }, 'timeout'],
    [{ retryAfter: -1 }, 'retryAfter'],
    [{ storeSize: 0 }, 'storeSize'],
    [{ store: {} }, 'store'],
    [{ store: new Map() }, 'store'],
    [{ store: { get: noop, setIfAbsent: noop } }, 'store'],
    [{ store: { get: noop, setIfAbsent: noop, set: noop } }, 'store'],
    [{ clock: () => 0 }, 'clock'],
    [{ logger: 'console' }, 'logger'],
    [{ random: 0.5 }, 'random'],
  ])('rejects %j', (extra, option) => {
    expectConfigError(withOptions(extra), option);
  });

  it('reads health check options: matcher lists, active when a path is given', () => {
    const h = normalizeOptions({
      backends: BACKENDS,
      healthCheck: { path: '/health', matcher: '200,204, 300-302', maxFailures: 0, cooldown: '1m' },
    }).healthCheck;
    expect(h).toMatchObject({ active: true, path: '/health', maxFailures: 0, cooldownMs: 60_000 });
    expect([200, 201, 204, 301, 303].map(h.isHealthyStatus)).toEqual([true, false, true, true, false]);
    expect(normalizeOptions({ backends: BACKENDS, healthCheck: true }).healthCheck.active).toBe(true);
    expect(normalizeOptions({ backends: BACKENDS, healthCheck: { maxFailures: 5 } }).healthCheck.active).toBe(
      false,
    );
    expect(
      normalizeOptions({ backends: BACKENDS, healthCheck: { path: '/h', active: false } }).healthCheck.active,
    ).toBe(false);
  });

  it('createStickyRouter throws the same errors, and setStickiness validates like start-up', () => {
    expectConfigError(
      () => createStickyRouter({ backends: BACKENDS, stickiness: { type: 'lb-cookie', duration: '2d' } }),
      'stickiness.duration',
    );
    const router = createStickyRouter({ backends: BACKENDS, secret: SECRET });
    expectConfigError(
      () => router.setStickiness({ type: 'source-ip', duration: '2h' }),
      'stickiness.duration',
    );
    expect(router.getStickiness()).toEqual({ type: 'off' });
  });

  it('warns once about a missing secret when cookies are in use', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) };
    createStickyRouter({ backends: BACKENDS, stickiness: { type: 'lb-cookie' }, logger });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/secret/);
    createStickyRouter({ backends: BACKENDS, stickiness: { type: 'source-ip' }, logger });
    createStickyRouter({ backends: BACKENDS, stickiness: { type: 'lb-cookie' }, secret: SECRET, logger });
    expect(warnings).toHaveLength(1);
  });
});

describe('parseDuration', () => {
  it.each([
    [90, 90_000],
    [0.5, 500],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['1.5h', 5_400_000],
    [' 20M ', 1_200_000],
    ['45', 45_000],
  ])('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input, 'x')).toBe(ms);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '', 'm', '5 minutes', '-5s', '1h30m', null, {}, [5]])(
    'rejects %p naming the option',
    (input) => {
      expectConfigError(() => parseDuration(input, 'stickiness.duration'), 'stickiness.duration', /'90s'/);
    },
  );

  it('shows odd values in the message without throwing itself', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expectConfigError(() => parseDuration(circular, 'timeout'), 'timeout', /object Object/);
  });
});
