// Redis store options: a misspelt option or a URL that is not Redis's is a StickyConfigError naming it; every
// ioredis option and ours pass. (Validation happens before any connection is made.)

import { StickyConfigError } from '@stickyroute/core';
import { validateStoreOptions } from './store-options';

function optionOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof StickyConfigError) return error.option;
    throw error;
  }
  return undefined;
}

test('unknown options are named: store.prefx', () => {
  expect(optionOf(() => validateStoreOptions({ prefx: 'a:' } as never))).toBe('store.prefx');
  expect(() => validateStoreOptions({ prefx: 'a:' } as never)).toThrow(/`store\.prefx` is not an option/);
  expect(optionOf(() => validateStoreOptions({ commandTimout: 50 } as never))).toBe('store.commandTimout');
});

test('non-redis URLs are refused: store.url', () => {
  for (const url of ['http://127.0.0.1:6379', 'localhost:6379', '', 'redis//x', 6379])
    expect(optionOf(() => validateStoreOptions({ url } as never))).toBe('store.url');
  for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2', 'redis://:pw@h'])
    expect(optionOf(() => validateStoreOptions({ url }))).toBeUndefined();
});

test('ioredis options and ours are accepted', () => {
  expect(
    optionOf(() =>
      validateStoreOptions({
        url: 'redis://127.0.0.1:6379',
        prefix: 'x:',
        commandTimeout: 50,
        connectionName: 'gw',
        connectTimeout: 500,
        db: 2,
        tls: {},
        sentinels: [{ host: '127.0.0.1', port: 26379 }],
        name: 'mymaster',
        nearCacheSize: 0,
        pendingWrites: 100,
        warningInterval: 0,
        logger: { warn() {} },
        now: Date.now,
      }),
    ),
  ).toBeUndefined();
});

test('bad values of our options are named', () => {
  expect(optionOf(() => validateStoreOptions({ prefix: 3 } as never))).toBe('store.prefix');
  expect(optionOf(() => validateStoreOptions({ commandTimeout: 0 }))).toBe('store.commandTimeout');
  expect(optionOf(() => validateStoreOptions({ nearCacheSize: -1 }))).toBe('store.nearCacheSize');
  expect(optionOf(() => validateStoreOptions({ pendingWrites: 1.5 }))).toBe('store.pendingWrites');
  expect(optionOf(() => validateStoreOptions({ logger: {} as never }))).toBe('store.logger');
  expect(optionOf(() => validateStoreOptions({ now: 5 as never }))).toBe('store.now');
});

test('a client together with connection options is refused, our own options beside it are fine', () => {
  const client = {} as never;
  expect(optionOf(() => validateStoreOptions({ client, host: '127.0.0.1' }))).toBe('store.client');
  expect(optionOf(() => validateStoreOptions({ client, url: 'redis://h' }))).toBe('store.client');
  expect(
    optionOf(() => validateStoreOptions({ client, prefix: 'p:', commandTimeout: 50, url: undefined })),
  ).toBeUndefined();
});
