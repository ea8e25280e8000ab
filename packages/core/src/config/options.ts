// The options every adapter takes, and their validation into a normalized, fully defaulted form.
// Every mistake is a StickyConfigError naming the option; nothing here runs on the request path.

import type { Duration, StickyStore } from '../types';
import { parseDuration, parseDurationInRange, show } from './duration';
import { StickyConfigError } from './errors';

export type BackendInput = string | { url: string; id?: string; weight?: number };

export type AlgorithmName =
  | 'round-robin'
  | 'least-connections'
  | 'random'
  | 'power-of-two'
  | 'source-ip-hash';

export type StickinessOptions =
  | false
  | { type: 'lb-cookie'; duration?: Duration; maxLifetime?: Duration }
  | { type: 'app-cookie'; appCookie: string; mode?: 'follow' | 'learn' | 'route'; routeSeparator?: string }
  | { type: 'source-ip'; duration?: Duration }
  | { type: 'header'; header: string; duration?: Duration }
  | { type: 'query'; param: string; duration?: Duration };

export interface CookieOptions {
  name?: string;
  path?: string;
  domain?: string;
  httpOnly?: boolean;
  secure?: 'auto' | boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
  cors?: boolean;
  persistent?: boolean;
}

export interface HealthCheckOptions {
  /** Active checks run when `path` is set or `active: true` (ELB-style defaults below). */
  active?: boolean;
  path?: string;
  interval?: Duration;
  timeout?: Duration;
  healthyThreshold?: number;
  unhealthyThreshold?: number;
  /** Status codes counted healthy: a range such as '200-399' (the default) or a list '200,204'. */
  matcher?: string;
  /** Passive checks: consecutive connection failures or timeouts that mark a backend down. 0 turns them off. */
  maxFailures?: number;
  /** With active checks off, how long a passively failed backend stays down before it is tried again. */
  cooldown?: Duration;
}

export interface StickyOptions {
  backends: BackendInput[];
  algorithm?: AlgorithmName;
  stickiness?: StickinessOptions;
  cookie?: CookieOptions;
  strict?: boolean;
  secret?: string | string[];
  healthCheck?: boolean | HealthCheckOptions;
  /** Ramp a new or recovered backend's share of new clients up over this period (ALB/HAProxy slow start). */
  slowStart?: Duration;
  store?: StickyStore;
  /** Max entries in the default in-memory store. */
  storeSize?: number;
  /** Upstream timeout: no response headers within it is a 504. */
  timeout?: Duration;
  /** Retry-After seconds on 503 answers. */
  retryAfter?: number;
  /** Logs warnings (missing secret, store trouble); defaults to process.emitWarning. */
  logger?: { warn(message: string): void };
}

export interface NormalizedBackend {
  id: string;
  url: URL;
  weight: number;
}

export type NormalizedStickiness =
  | { type: 'off' }
  | { type: 'lb-cookie'; durationMs: number; maxLifetimeMs: number | null }
  | { type: 'app-cookie'; appCookie: string; mode: 'follow' | 'learn' }
  | { type: 'app-cookie'; appCookie: string; mode: 'route'; routeSeparator: string }
  | { type: 'source-ip'; durationMs: number }
  | { type: 'header'; header: string; durationMs: number }
  | { type: 'query'; param: string; durationMs: number };

export interface NormalizedCookie {
  name: string;
  path: string;
  domain: string | undefined;
  httpOnly: boolean;
  secure: 'auto' | boolean;
  sameSite: 'Strict' | 'Lax' | 'None';
  cors: boolean;
  persistent: boolean;
}

export interface NormalizedHealthCheck {
  active: boolean;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  isHealthyStatus: (status: number) => boolean;
  maxFailures: number;
  cooldownMs: number;
}

export interface NormalizedOptions {
  backends: NormalizedBackend[];
  algorithm: AlgorithmName;
  stickiness: NormalizedStickiness;
  cookie: NormalizedCookie;
  strict: boolean;
  secrets: string[] | null;
  healthCheck: NormalizedHealthCheck;
  slowStartMs: number;
  timeoutMs: number;
  retryAfter: number;
  storeSize: number;
}

const MINUTE = 60_000;
const ALGORITHMS: readonly AlgorithmName[] = [
  'round-robin',
  'least-connections',
  'random',
  'power-of-two',
  'source-ip-hash',
];
const STICKINESS_TYPES = ['lb-cookie', 'app-cookie', 'source-ip', 'header', 'query'];
// RFC 6265 cookie-name is an RFC 7230 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII that can sit inside a cookie value and a URL path parameter.
const ROUTE_SEPARATOR = /^[!$%&'()*+\-.:<>@[\]^_`{|}~0-9A-Za-z]{1,8}$/;
// What the `cookie` library accepts for Path (RFC 6265 av-octets, without spaces) and Domain (host labels).
const COOKIE_PATH = /^[\u0021-\u003A\u003D-\u007E]+$/;
const COOKIE_DOMAIN = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new StickyConfigError(`${path}.${key}`, `is not a known option (known: ${allowed.join(', ')})`);
  }
}

function positiveInt(value: unknown, path: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new StickyConfigError(path, `must be an integer ≥ ${min} (got ${show(value)})`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new StickyConfigError(
    path,
    `must be one of ${allowed.map((a) => `'${a}'`).join(', ')} (got ${show(value)})`,
  );
}

function boolean(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new StickyConfigError(path, `must be true or false (got ${show(value)})`);
  return value;
}

function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new StickyConfigError(path, `must be a non-empty string (got ${show(value)})`);
  return value;
}

export function normalizeBackend(input: unknown, path: string): NormalizedBackend {
  const spec = typeof input === 'string' ? { url: input } : input;
  if (!isObject(spec))
    throw new StickyConfigError(path, `must be a URL string or { url, id?, weight? } (got ${show(input)})`);
  checkKeys(spec, ['url', 'id', 'weight'], path);
  let url: URL;
  try {
    url = new URL(String(spec.url));
  } catch {
    throw new StickyConfigError(`${path}.url`, `is not a valid URL (got ${show(spec.url)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StickyConfigError(`${path}.url`, `must be an http: or https: URL (got ${show(spec.url)})`);
  }
  // A backend is an origin: requests go upstream with their own path, byte for byte. A path, query or
  // credentials here would be dropped without a word (or, prefixed, change every path the app sees), so they
  // are refused; an app mounted under a base path is reached by proxying only that prefix.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new StickyConfigError(
      `${path}.url`,
      `must be an origin such as 'http://10.0.0.1:8080', without a path, query or fragment: requests keep their own path (got ${show(spec.url)}; did you mean ${show(url.origin)}?)`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new StickyConfigError(
      `${path}.url`,
      `must not carry credentials (user:password@): they would not be sent (got ${show(url.protocol)}//…@${url.host})`,
    );
  }
  const id = spec.id === undefined ? String(spec.url) : nonEmptyString(spec.id, `${path}.id`);
  return { id, url, weight: positiveInt(spec.weight, `${path}.weight`, 1) };
}

export function normalizeBackends(value: unknown): NormalizedBackend[] {
  if (!Array.isArray(value))
    throw new StickyConfigError('backends', `must be a list of backends (got ${show(value)})`);
  const seen = new Set<string>();
  return value.map((input, i) => {
    const backend = normalizeBackend(input, `backends[${i}]`);
    if (seen.has(backend.id))
      throw new StickyConfigError(`backends[${i}].id`, `duplicates another backend's id ${show(backend.id)}`);
    seen.add(backend.id);
    return backend;
  });
}

export function normalizeStickiness(value: unknown, path = 'stickiness'): NormalizedStickiness {
  if (value === false || value === undefined || value === null) return { type: 'off' };
  if (!isObject(value))
    throw new StickyConfigError(path, `must be false or an object with a \`type\` (got ${show(value)})`);
  if (value.type === undefined)
    throw new StickyConfigError(
      `${path}.type`,
      `is required: one of ${STICKINESS_TYPES.map((t) => `'${t}'`).join(', ')}`,
    );
  const type = oneOf(value.type, STICKINESS_TYPES, `${path}.type`, undefined as never);
  switch (type) {
    case 'lb-cookie': {
      checkKeys(value, ['type', 'duration', 'maxLifetime'], path);
      const durationMs = parseDurationInRange(
        value.duration ?? '20m',
        `${path}.duration`,
        MINUTE,
        24 * 60 * MINUTE,
      );
      const maxLifetimeMs =
        value.maxLifetime === undefined
          ? null
          : parseDurationInRange(value.maxLifetime, `${path}.maxLifetime`, MINUTE, 365 * 24 * 60 * MINUTE);
      return { type, durationMs, maxLifetimeMs };
    }
    case 'app-cookie': {
      checkKeys(value, ['type', 'appCookie', 'mode', 'routeSeparator'], path);
      const appCookie = nonEmptyString(value.appCookie, `${path}.appCookie`);
      if (!TOKEN.test(appCookie))
        throw new StickyConfigError(
          `${path}.appCookie`,
          `is not a valid cookie name (got ${show(appCookie)})`,
        );
      const mode = oneOf(value.mode, ['follow', 'learn', 'route'] as const, `${path}.mode`, 'follow');
      if (mode === 'route') return { type, appCookie, mode, routeSeparator: routeSeparator(value, path) };
      if (value.routeSeparator !== undefined)
        throw new StickyConfigError(
          `${path}.routeSeparator`,
          `applies only to mode 'route' (mode is '${mode}')`,
        );
      return { type, appCookie, mode };
    }
    case 'source-ip': {
      checkKeys(value, ['type', 'duration'], path);
      return {
        type,
        durationMs: parseDurationInRange(value.duration ?? '20m', `${path}.duration`, MINUTE, 60 * MINUTE),
      };
    }
    case 'header': {
      checkKeys(value, ['type', 'header', 'duration'], path);
      const header = nonEmptyString(value.header, `${path}.header`).toLowerCase();
      if (!TOKEN.test(header))
        throw new StickyConfigError(`${path}.header`, `is not a valid header name (got ${show(header)})`);
      return {
        type,
        header,
        durationMs: parseDurationInRange(value.duration ?? '20m', `${path}.duration`, MINUTE, 60 * MINUTE),
      };
    }
    default: {
      checkKeys(value, ['type', 'param', 'duration'], path);
      const param = nonEmptyString(value.param, `${path}.param`);
      return {
        type: 'query',
        param,
        durationMs: parseDurationInRange(value.duration ?? '20m', `${path}.duration`, MINUTE, 60 * MINUTE),
      };
    }
  }
}

/**
 * Where the route starts in a route-mode session id (`.` as Tomcat's jvmRoute): it must be able to sit in a
 * cookie value and a path parameter, so no separators of either (`;`, `,`, `=`, `/`, `?`, `#`, quotes, spaces).
 */
function routeSeparator(value: Record<string, unknown>, path: string): string {
  if (value.routeSeparator === undefined) return '.';
  const separator = value.routeSeparator;
  if (typeof separator !== 'string' || !ROUTE_SEPARATOR.test(separator))
    throw new StickyConfigError(
      `${path}.routeSeparator`,
      `must be 1 to 8 visible ASCII characters other than ; , = / ? # " \\ (got ${show(separator)})`,
    );
  return separator;
}

function normalizeCookie(value: unknown): NormalizedCookie {
  if (value !== undefined && !isObject(value))
    throw new StickyConfigError('cookie', `must be an object (got ${show(value)})`);
  const c = value ?? {};
  checkKeys(c, ['name', 'path', 'domain', 'httpOnly', 'secure', 'sameSite', 'cors', 'persistent'], 'cookie');
  const name = c.name === undefined ? 'STICKY' : nonEmptyString(c.name, 'cookie.name');
  if (!TOKEN.test(name))
    throw new StickyConfigError('cookie.name', `is not a valid cookie name (got ${show(name)})`);
  const path = c.path === undefined ? '/' : nonEmptyString(c.path, 'cookie.path');
  // The same rules the `cookie` library applies when it serializes: checked here, or a bad value would
  // make every Set-Cookie fail on the request path and stickiness silently stop.
  if (!path.startsWith('/') || !COOKIE_PATH.test(path))
    throw new StickyConfigError(
      'cookie.path',
      `must start with / and hold only visible ASCII, no ';' (got ${show(path)})`,
    );
  const domain = c.domain === undefined ? undefined : nonEmptyString(c.domain, 'cookie.domain');
  if (domain !== undefined && !COOKIE_DOMAIN.test(domain))
    throw new StickyConfigError(
      'cookie.domain',
      `must be a host name such as 'example.com' or '.example.com', no port (got ${show(domain)})`,
    );
  const secure =
    c.secure === undefined || c.secure === 'auto' ? 'auto' : boolean(c.secure, 'cookie.secure', false);
  const sameSite = oneOf(c.sameSite, ['Strict', 'Lax', 'None'] as const, 'cookie.sameSite', 'Lax');
  // Browsers drop a SameSite=None cookie without Secure, so the writer adds Secure to it; with `secure: false`
  // the user asked for the one combination that cannot work (with 'auto', Secure is simply always sent).
  if (sameSite === 'None' && secure === false)
    throw new StickyConfigError(
      'cookie.sameSite',
      "is 'None', which browsers accept only on a Secure cookie, but cookie.secure is false: set secure to true or 'auto', or use 'Lax'",
    );
  return {
    name,
    path,
    domain,
    httpOnly: boolean(c.httpOnly, 'cookie.httpOnly', true),
    secure,
    sameSite,
    cors: boolean(c.cors, 'cookie.cors', false),
    persistent: boolean(c.persistent, 'cookie.persistent', true),
  };
}

function statusMatcher(value: unknown): (status: number) => boolean {
  const spec = value === undefined ? '200-399' : nonEmptyString(value, 'healthCheck.matcher');
  const parts = spec.split(',').map((part) => {
    const m = /^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$/.exec(part);
    if (!m)
      throw new StickyConfigError(
        'healthCheck.matcher',
        `must be status codes such as '200-399' or '200,204' (got ${show(spec)})`,
      );
    return [Number(m[1]), Number(m[2] ?? m[1])] as const;
  });
  return (status) => parts.some(([lo, hi]) => status >= lo && status <= hi);
}

function normalizeHealthCheck(value: unknown): NormalizedHealthCheck {
  if (value !== undefined && typeof value !== 'boolean' && !isObject(value)) {
    throw new StickyConfigError('healthCheck', `must be true, false or an object (got ${show(value)})`);
  }
  const h = isObject(value) ? value : {};
  checkKeys(
    h,
    [
      'active',
      'path',
      'interval',
      'timeout',
      'healthyThreshold',
      'unhealthyThreshold',
      'matcher',
      'maxFailures',
      'cooldown',
    ],
    'healthCheck',
  );
  // ELB/ALB defaults: every 30 s, 5 s timeout, healthy after 5 passes, unhealthy after 2 failures.
  const active =
    value === true ||
    (isObject(value) &&
      (h.active === undefined
        ? h.path !== undefined || h.interval !== undefined
        : boolean(h.active, 'healthCheck.active', false)));
  const path = h.path === undefined ? '/' : nonEmptyString(h.path, 'healthCheck.path');
  if (!path.startsWith('/'))
    throw new StickyConfigError('healthCheck.path', `must start with / (got ${show(path)})`);
  const intervalMs = parseDurationInRange(h.interval ?? 30, 'healthCheck.interval', 100, 300_000);
  const timeoutMs = parseDurationInRange(h.timeout ?? 5, 'healthCheck.timeout', 50, 120_000);
  if (timeoutMs > intervalMs)
    throw new StickyConfigError('healthCheck.timeout', 'must not be longer than healthCheck.interval');
  return {
    active,
    path,
    intervalMs,
    timeoutMs,
    healthyThreshold: positiveInt(h.healthyThreshold, 'healthCheck.healthyThreshold', 5),
    unhealthyThreshold: positiveInt(h.unhealthyThreshold, 'healthCheck.unhealthyThreshold', 2),
    isHealthyStatus: statusMatcher(h.matcher),
    maxFailures: positiveInt(h.maxFailures, 'healthCheck.maxFailures', 3, 0),
    cooldownMs: parseDurationInRange(h.cooldown ?? 10, 'healthCheck.cooldown', 100, 3_600_000),
  };
}

function normalizeSecret(value: unknown): string[] | null {
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0)
    throw new StickyConfigError('secret', 'must be a string or a non-empty list of strings');
  return list.map((s, i) => {
    const path = Array.isArray(value) ? `secret[${i}]` : 'secret';
    if (typeof s !== 'string' || s.length < 16)
      throw new StickyConfigError(path, 'must be a string of at least 16 characters');
    return s;
  });
}

const KNOWN_OPTIONS = [
  'backends',
  'algorithm',
  'stickiness',
  'cookie',
  'strict',
  'secret',
  'healthCheck',
  'slowStart',
  'store',
  'storeSize',
  'timeout',
  'retryAfter',
  'logger',
];

/** Validates everything the router needs, so the request path never meets a bad option. */
export function normalizeOptions(options: unknown, extraKeys: readonly string[] = []): NormalizedOptions {
  if (!isObject(options)) throw new StickyConfigError('options', `must be an object (got ${show(options)})`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key) && !extraKeys.includes(key)) {
      throw new StickyConfigError(
        key,
        `is not a known option (known: ${[...KNOWN_OPTIONS, ...extraKeys].join(', ')})`,
      );
    }
  }
  const store = options.store;
  if (
    store !== undefined &&
    (!isObject(store) ||
      !['get', 'setIfAbsent', 'set', 'delete'].every((m) => typeof store[m] === 'function'))
  ) {
    throw new StickyConfigError('store', 'must be a StickyStore (get, setIfAbsent, set, delete)');
  }
  if (
    options.logger !== undefined &&
    (!isObject(options.logger) || typeof options.logger.warn !== 'function')
  )
    throw new StickyConfigError('logger', 'must be an object with a warn(message) method');
  const retryAfter = positiveInt(options.retryAfter, 'retryAfter', 5, 0);
  return {
    backends: normalizeBackends(options.backends),
    algorithm: oneOf(options.algorithm, ALGORITHMS, 'algorithm', 'round-robin'),
    stickiness: normalizeStickiness(options.stickiness),
    cookie: normalizeCookie(options.cookie),
    strict: boolean(options.strict, 'strict', false),
    secrets: normalizeSecret(options.secret),
    healthCheck: normalizeHealthCheck(options.healthCheck),
    slowStartMs:
      options.slowStart === undefined
        ? 0
        : parseDurationInRange(options.slowStart, 'slowStart', 0, 3_600_000),
    timeoutMs:
      options.timeout === undefined ? 30_000 : parseDurationInRange(options.timeout, 'timeout', 1, 3_600_000),
    retryAfter,
    storeSize: positiveInt(options.storeSize, 'storeSize', 100_000),
  };
}

export { parseDuration };
