// The server limits the node handler and the Fastify plugin put on the server they run on: their defaults,
// each option given, every bad value a StickyConfigError naming the option, and what lands on a real server.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { StickyConfigError } from '../config/errors';
import { applyServerLimits, type NormalizedServerLimits, normalizeServerLimits } from './server-limits';

const DEFAULTS: NormalizedServerLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  maxConnections: 10_000,
};
const KNOWN = 'headersTimeout, requestTimeout, keepAliveTimeout, idleTimeout, maxConnections';

/** The StickyConfigError `normalizeServerLimits(limits, path)` throws; fails the test if it throws none. */
function configErrorOf(limits: unknown, path = 'serverLimits'): StickyConfigError {
  try {
    normalizeServerLimits(limits, path);
  } catch (error) {
    expect(error).toBeInstanceOf(StickyConfigError);
    return error as StickyConfigError;
  }
  throw new Error(`normalizeServerLimits(${JSON.stringify(limits)}) did not throw`);
}

function expectRejected(limits: unknown, option: string, problem: string, path = 'serverLimits'): void {
  const error = configErrorOf(limits, path);
  expect(error.option).toBe(option);
  expect(error.message).toBe(`stickyroute: option \`${option}\` ${problem}`);
}

describe('normalizeServerLimits', () => {
  it('turns the limits off for false', () => {
    expect(normalizeServerLimits(false, 'serverLimits')).toBeNull();
  });

  it('gives every default when the option is left out', () => {
    expect(normalizeServerLimits(undefined, 'serverLimits')).toEqual(DEFAULTS);
  });

  it('gives every default for an empty object, and keys set to undefined count as left out', () => {
    expect(normalizeServerLimits({}, 'serverLimits')).toEqual(DEFAULTS);
    const allUndefined = {
      headersTimeout: undefined,
      requestTimeout: undefined,
      keepAliveTimeout: undefined,
      idleTimeout: undefined,
      maxConnections: undefined,
    };
    expect(normalizeServerLimits(allUndefined, 'serverLimits')).toEqual(DEFAULTS);
  });

  it('takes every option given, durations as seconds or strings', () => {
    const limits = {
      headersTimeout: '7s',
      requestTimeout: 90,
      keepAliveTimeout: '1500ms',
      idleTimeout: '2m',
      maxConnections: 42,
    };
    expect(normalizeServerLimits(limits, 'serverLimits')).toEqual({
      headersTimeoutMs: 7_000,
      requestTimeoutMs: 90_000,
      keepAliveTimeoutMs: 1_500,
      idleTimeoutMs: 120_000,
      maxConnections: 42,
    });
  });

  it.each([
    ['headersTimeout', { headersTimeout: '3s' }, { ...DEFAULTS, headersTimeoutMs: 3_000 }],
    ['requestTimeout', { requestTimeout: '30s' }, { ...DEFAULTS, requestTimeoutMs: 30_000 }],
    ['keepAliveTimeout', { keepAliveTimeout: '9s' }, { ...DEFAULTS, keepAliveTimeoutMs: 9_000 }],
    ['idleTimeout', { idleTimeout: '45s' }, { ...DEFAULTS, idleTimeoutMs: 45_000 }],
    ['maxConnections', { maxConnections: 7 }, { ...DEFAULTS, maxConnections: 7 }],
  ])('takes %s alone and keeps the other defaults', (_key, limits, expected) => {
    expect(normalizeServerLimits(limits, 'serverLimits')).toEqual(expected);
  });

  it.each([
    ['a string', 'none'],
    ['a number', 5],
    ['true', true],
    ['null', null],
    ['an empty array', []],
    ['an array', ['headersTimeout']],
    ['a function', () => ({})],
  ])('rejects %s in place of the limits, naming the option', (_what, limits) => {
    expectRejected(limits, 'serverLimits', 'must be false or an object of server limits');
  });

  it('names the path it is given, not a fixed one', () => {
    expectRejected('none', 'plugin.limits', 'must be false or an object of server limits', 'plugin.limits');
    expectRejected(
      { maxConnections: 0 },
      'plugin.limits.maxConnections',
      'must be an integer ≥ 1',
      'plugin.limits',
    );
    expectRejected(
      { idleTimeout: '50ms' },
      'plugin.limits.idleTimeout',
      'must be between 100ms and 1h (got "50ms")',
      'plugin.limits',
    );
    expectRejected({ x: 1 }, 'plugin.limits.x', `is not a known option (known: ${KNOWN})`, 'plugin.limits');
  });

  it('rejects an unknown option, naming it and listing the known ones', () => {
    expectRejected(
      { maxConnections: 5, bodyTimeout: '5s' },
      'serverLimits.bodyTimeout',
      `is not a known option (known: ${KNOWN})`,
    );
  });

  it('rejects an option that only differs in case', () => {
    expectRejected(
      { HeadersTimeout: '5s' },
      'serverLimits.HeadersTimeout',
      `is not a known option (known: ${KNOWN})`,
    );
  });

  it.each(['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'idleTimeout'])(
    'rejects a %s that is not a duration, naming it',
    (key) => {
      expectRejected(
        { [key]: 'soon' },
        `serverLimits.${key}`,
        `must be a number of seconds or a string such as '90s', '15m', '1h' (got "soon")`,
      );
    },
  );

  describe.each(['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'idleTimeout'])('%s', (key) => {
    // requestTimeout must not be shorter than headersTimeout: keep the other one out of the way of the bounds.
    const withKey = (value: unknown) => {
      if (key === 'requestTimeout') return { headersTimeout: '100ms', [key]: value };
      if (key === 'headersTimeout') return { requestTimeout: '1h', [key]: value };
      return { [key]: value };
    };
    const fieldOf = `${key}Ms` as keyof NormalizedServerLimits;

    it('takes 100ms, the shortest allowed', () => {
      expect(normalizeServerLimits(withKey('100ms'), 'serverLimits')?.[fieldOf]).toBe(100);
    });

    it('rejects 99ms, one under the shortest, naming it', () => {
      expectRejected(withKey('99ms'), `serverLimits.${key}`, 'must be between 100ms and 1h (got "99ms")');
    });

    it('takes one hour, the longest allowed', () => {
      expect(normalizeServerLimits(withKey('3600000ms'), 'serverLimits')?.[fieldOf]).toBe(3_600_000);
    });

    it('rejects one hour and a millisecond, naming it', () => {
      expectRejected(
        withKey('3600001ms'),
        `serverLimits.${key}`,
        'must be between 100ms and 1h (got "3600001ms")',
      );
    });

    it('rejects zero, naming it', () => {
      expectRejected(withKey(0), `serverLimits.${key}`, 'must be between 100ms and 1h (got 0)');
    });
  });

  it('rejects a requestTimeout shorter than the headersTimeout, by a millisecond', () => {
    expectRejected(
      { headersTimeout: '1000ms', requestTimeout: '999ms' },
      'serverLimits.requestTimeout',
      'must not be shorter than serverLimits.headersTimeout',
    );
  });

  it('rejects a headersTimeout longer than the default requestTimeout', () => {
    expectRejected(
      { headersTimeout: '121s' },
      'serverLimits.requestTimeout',
      'must not be shorter than serverLimits.headersTimeout',
    );
  });

  it('names the given path in the requestTimeout error', () => {
    expectRejected(
      { headersTimeout: '2s', requestTimeout: '1s' },
      'gw.requestTimeout',
      'must not be shorter than gw.headersTimeout',
      'gw',
    );
  });

  it('takes a requestTimeout equal to the headersTimeout', () => {
    const limits = normalizeServerLimits({ headersTimeout: '1000ms', requestTimeout: '1s' }, 'serverLimits');
    expect(limits?.headersTimeoutMs).toBe(1_000);
    expect(limits?.requestTimeoutMs).toBe(1_000);
  });

  it('takes a headersTimeout equal to the default requestTimeout', () => {
    const limits = normalizeServerLimits({ headersTimeout: '120s' }, 'serverLimits');
    expect(limits?.headersTimeoutMs).toBe(120_000);
    expect(limits?.requestTimeoutMs).toBe(120_000);
  });

  it('takes maxConnections 1, the least allowed', () => {
    expect(normalizeServerLimits({ maxConnections: 1 }, 'serverLimits')?.maxConnections).toBe(1);
  });

  it.each([
    ['0', 0],
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['a fraction under 1', 0.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a numeric string', '5'],
    ['a boolean', true],
  ])('rejects maxConnections %s, naming it', (_what, maxConnections) => {
    expectRejected({ maxConnections }, 'serverLimits.maxConnections', 'must be an integer ≥ 1');
  });
});

describe('applyServerLimits', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const server = (): Server => {
    const made = createServer();
    servers.push(made);
    return made;
  };

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const made of servers.splice(0)) {
      if (!made.listening) continue;
      made.closeAllConnections();
      made.close();
      await once(made, 'close');
    }
  });

  it('sets each limit on a real http.Server', () => {
    const target = server();
    applyServerLimits(target, {
      headersTimeoutMs: 7_000,
      requestTimeoutMs: 90_000,
      keepAliveTimeoutMs: 1_500,
      idleTimeoutMs: 45_000,
      maxConnections: 42,
    });
    expect(target.headersTimeout).toBe(7_000);
    expect(target.requestTimeout).toBe(90_000);
    expect(target.keepAliveTimeout).toBe(1_500);
    expect(target.timeout).toBe(45_000);
    expect(target.maxConnections).toBe(42);
  });

  it('sets the defaults when the option is left out', () => {
    const target = server();
    applyServerLimits(target, normalizeServerLimits(undefined, 'serverLimits'));
    expect(target.headersTimeout).toBe(20_000);
    expect(target.requestTimeout).toBe(120_000);
    expect(target.keepAliveTimeout).toBe(5_000);
    expect(target.timeout).toBe(120_000);
    expect(target.maxConnections).toBe(10_000);
  });

  it('leaves the server as node made it when the limits are off', () => {
    const target = server();
    const untouched = server();
    applyServerLimits(target, normalizeServerLimits(false, 'serverLimits'));
    expect(target.headersTimeout).toBe(untouched.headersTimeout);
    expect(target.requestTimeout).toBe(untouched.requestTimeout);
    expect(target.keepAliveTimeout).toBe(untouched.keepAliveTimeout);
    expect(target.timeout).toBe(untouched.timeout);
    expect(target.maxConnections).toBe(untouched.maxConnections);
    // node's own values, so a change of the above to "set something anyway" cannot pass unnoticed
    expect(target.headersTimeout).not.toBe(DEFAULTS.headersTimeoutMs);
    expect(target.timeout).toBe(0);
  });

  it('makes the server drop a connection past maxConnections and keep the ones within it', async () => {
    const target = server();
    applyServerLimits(target, { ...DEFAULTS, maxConnections: 1 });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    const { port } = target.address() as AddressInfo;

    const first = connect(port, '127.0.0.1');
    sockets.push(first);
    await once(target, 'connection');

    const dropped = once(target, 'drop');
    const second = connect(port, '127.0.0.1');
    sockets.push(second);
    const closed = once(second, 'close');
    await once(second, 'connect');
    const secondPort = second.localPort;
    const [drop] = (await dropped) as [{ remotePort: number } | undefined];
    await closed;
    expect(drop?.remotePort).toBe(secondPort);

    // the first connection still gets an answer
    target.on('request', (_req, res) => res.end('ok'));
    first.write('GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
    first.setEncoding('latin1');
    let reply = '';
    first.on('data', (chunk: string) => {
      reply += chunk;
    });
    await once(first, 'end');
    expect(reply.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(reply.endsWith('\r\n\r\nok')).toBe(true);
  });
});
