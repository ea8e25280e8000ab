// createStatusHandler(): the gateway's status page as one connect-style `(req, res, next)` handler over the
// core router, so it sits in front of any adapter (Express, Koa, Fastify, node:http) or on a listener of its
// own. Under its path it serves the page (HTML), its JSON (`?format=json` or `Accept: application/json`),
// Prometheus metrics (`/metrics`), and the changes a cloud console makes: drain, undrain, mark down/up,
// remove and add backends, switch stickiness. Every other path goes to `next`.
//
// It can change the pool, so every request passes the RequestGuard (Host, token, and for changes Origin),
// changes are POST/DELETE with a JSON body (which a cross-site form cannot send), and URLs of added backends
// pass the operator's allowBackends.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  type Duration,
  type NormalizedStickiness,
  type RouterEvents,
  StickyConfigError,
  type StickyRouter,
} from '@stickyroute/core';
import {
  type AllowBackends,
  compileBackendCheck,
  RefusedBackend,
  type ResolveHost,
} from './backend-allowlist';
import { HttpError, RequestGuard } from './request-guard';
import { createStatusMetrics, loadPromClient, type MetricsSource } from './status-metrics';
import { StuckClients } from './stuck-clients';
import { TrafficHistory } from './traffic-history';

/** The part of a prom-client Registry the handler uses; pass your own `new Registry()` (or `register`). */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
  registerMetric(metric: never): void;
}

/** Time for the traffic sampler: the core's Clock (a test passes a fake one). */
export interface StatusClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface StatusHandlerOptions {
  /** The core router: `middleware.router` (Express, Koa, node), `fastify.sticky` (Fastify). */
  router: StickyRouter;
  /** Where the page lives; its JSON, metrics and controls are under it. Default `/__sticky`. */
  path?: string;
  /** Requires `Authorization: Bearer <token>` (or `?token=`) on every request; at least 16 characters. */
  token?: string;
  /** A prom-client Registry to put the metrics in (your own /metrics then shows them too). */
  register?: MetricsRegistry;
  /**
   * Host names the page may be reached under, besides loopback names and the address a request arrives
   * on: `['status.example.com']`, `['.example.com']`; `'any'` turns the Host check off. Anything else is 403,
   * which is what stops a DNS-rebinding page from reading or driving it.
   */
  allowedHosts?: readonly string[] | 'any';
  /**
   * Which URLs "add a backend" accepts. Default: http(s), except link-local and cloud metadata addresses
   * (169.254.0.0/16, fe80::/10, 169.254.169.254, fd00:ec2::254, …) and 0.0.0.0. See AllowBackends.
   */
  allowBackends?: AllowBackends;
  /**
   * Makes a new backend when the page's "Add an instance" is pressed (a body without `url`); without it the
   * page adds backends by URL only. What it resolves to is trusted: allowBackends does not apply.
   */
  addInstance?: () => Promise<{ url: string; id?: string; weight?: number }>;
  /** Shown in the page's header, e.g. `'express gateway'`. */
  title?: string;
  /** The app's session cookie, pre-filled in the stickiness form for app-cookie. Default `JSESSIONID`. */
  appCookie?: string;
  /** Where the warning about a page without token beyond loopback goes. Default: process.emitWarning. */
  logger?: { warn(message: string): void };
  /** @internal for tests: the sampler's clock, and host name resolution for allowBackends. */
  clock?: StatusClock;
  resolveHost?: ResolveHost;
}

export interface StatusHandler {
  /** Serves the status paths; calls `next()` for every other request. */
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The base path, e.g. `/__sticky`. */
  readonly path: string;
  /** The request is for the status page (what the framework helpers ask before handing it over). */
  owns(req: IncomingMessage): boolean;
  /** Stops the traffic sampler and stops listening to the router. */
  close(): void;
}

const MAX_BODY_BYTES = 4096;
/** The chart: one point a second over the last five minutes. */
const SAMPLE_INTERVAL_MS = 1000;
const HISTORY_MS = 5 * 60_000;
/** The table's share of traffic is over the last ten seconds (and since start before there were any). */
const RECENT_WINDOW_MS = 10_000;
const PAGE_FILE = join(__dirname, '..', 'assets', 'status-page.html');
const SYSTEM_CLOCK: StatusClock = {
  now: Date.now,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

let pageTemplate: string | undefined;

export function createStatusHandler(options: StatusHandlerOptions): StatusHandler {
  const { router, addInstance, title = '', appCookie = 'JSESSIONID' } = options;
  const path = normalizePath(options.path);
  const clock = options.clock ?? SYSTEM_CLOCK;
  const guard = new RequestGuard({
    token: options.token,
    allowedHosts: options.allowedHosts,
    logger: options.logger ?? {
      warn: (message) => process.emitWarning(message, 'StickyrouteWarning'),
    },
  });
  const checkBackend = compileBackendCheck(options.allowBackends, options.resolveHost);
  pageTemplate ??= readFileSync(PAGE_FILE, 'utf8');
  const page = pageTemplate.replace('"__STATUS_CONFIG__"', () =>
    JSON.stringify({ title, appCookie, canAddInstance: addInstance !== undefined }).replace(/</g, '\\u003c'),
  );

  const stuck = new StuckClients(router, { now: clock.now });
  const history = new TrafficHistory(SAMPLE_INTERVAL_MS, HISTORY_MS);
  const reroutes = new Map<string, Map<string, number>>();
  const retries = new Map<string, number>();
  const onReroute = (event: RouterEvents['reroute']) => {
    const from = event.from ?? '';
    const byWhy = reroutes.get(from) ?? new Map<string, number>();
    byWhy.set(event.why, (byWhy.get(event.why) ?? 0) + 1);
    reroutes.set(from, byWhy);
  };
  const onRetry = (event: RouterEvents['retry']) =>
    retries.set(event.from, (retries.get(event.from) ?? 0) + 1);
  router.on('reroute', onReroute);
  router.on('retry', onRetry);

  const source: MetricsSource = {
    stats: () => router.stats(),
    stuckClients: () => stuck.counts(),
    stickinessType: () => router.getStickiness().type,
    reroutes: () => reroutes,
    retries: () => retries,
  };
  const metrics = createStatusMetrics(source, {
    register: options.register as never,
    promClient: loadPromClient(),
  });

  let sampler: unknown;
  const sample = () => {
    history.sample(clock.now(), router.stats().backends);
    sampler = clock.setTimeout(sample, SAMPLE_INTERVAL_MS);
  };
  sample();

  function snapshot() {
    const stats = router.stats();
    const counts = stuck.counts();
    const recent = history.recent(clock.now(), RECENT_WINDOW_MS, stats.backends);
    const recentSum = [...recent.values()].reduce((a, b) => a + b, 0);
    const totalSum = stats.backends.reduce((a, b) => a + b.total, 0);
    return {
      title,
      algorithm: stats.algorithm,
      stickiness: describeStickiness(stats.stickiness),
      requests: stats.requests,
      recentWindowSeconds: RECENT_WINDOW_MS / 1000,
      canAddInstance: addInstance !== undefined,
      backends: stats.backends.map((b) => ({
        ...b,
        stuckClients: counts.get(b.id) ?? 0,
        share: totalSum === 0 ? 0 : b.total / totalSum,
        recentRequests: recent.get(b.id) ?? 0,
        recentShare: recentSum === 0 ? 0 : (recent.get(b.id) ?? 0) / recentSum,
      })),
      traffic: history.rates(),
    };
  }

  /** Applies one change; resolves to what the JSON answer says, with a `message` for people. */
  async function act(method: string, parts: string[], body: Record<string, unknown>) {
    const pool = router.pool;
    if (parts[0] === 'stickiness' && parts.length === 1 && method === 'POST') {
      router.setStickiness(stickinessFrom(body) as never);
      const stickiness = describeStickiness(router.getStickiness());
      return { stickiness, message: `stickiness is now ${summary(stickiness)}` };
    }
    if (parts[0] !== 'backends') throw new HttpError(404, 'Not Found');
    if (parts.length === 1 && method === 'POST') {
      let spec: { url: string; id?: unknown; weight?: unknown };
      if (typeof body.url === 'string') {
        try {
          await checkBackend(body.url);
        } catch (error) {
          if (error instanceof RefusedBackend) throw new HttpError(400, `refused: ${error.message}`);
          throw error;
        }
        spec = { url: body.url, id: body.id, weight: body.weight };
      } else if (addInstance !== undefined) spec = await addInstance();
      else throw new HttpError(400, 'give the new backend as { "url": "http://…" }');
      const added = pool.add(spec as { url: string; id?: string; weight?: number });
      return {
        added: added.id,
        message: `${added.id} added (${added.origin}): it takes new clients, nobody moves`,
      };
    }
    const id = parts[1];
    if (id === undefined || pool.get(id) === undefined)
      throw new HttpError(404, `no backend ${JSON.stringify(id)}`);
    const action =
      method === 'DELETE' && parts.length === 2
        ? 'remove'
        : method === 'POST' && parts.length === 3
          ? parts[2]
          : '';
    switch (action) {
      case 'drain': {
        // Checked by drain() itself: a bad duration is a StickyConfigError, answered 400.
        const duration = (value: unknown) =>
          (typeof value === 'string' || typeof value === 'number' ? value : undefined) as
            | Duration
            | undefined;
        const timeout = duration(body.timeout) ?? '5m';
        const idle = duration(body.idle);
        pool.drain(id, idle === undefined ? { timeout } : { idle, timeout });
        const quiet = pool.get(id)?.drain?.idleMs;
        return {
          drain: id,
          message:
            `${id} is draining: no new clients; it is removed once its own clients have been quiet for ` +
            `${quiet == null ? 'the stickiness idle time' : `${Math.round(quiet / 1000)} s`}, or in ${timeout}`,
        };
      }
      case 'undrain':
        pool.undrain(id);
        return { undrain: id, message: `${id} takes new clients again` };
      case 'remove':
        pool.remove(id);
        return { remove: id, message: `${id} removed: its clients move on their next request` };
      case 'down':
        pool.markDown(id, 'status page');
        return { down: id, message: `${id} marked down: its clients are rerouted` };
      case 'up':
        pool.markUp(id, 'status page');
        return { up: id, message: `${id} marked up` };
      default:
        throw new HttpError(404, 'Not Found');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    guard.check(req, url, !reading);
    const parts = url.pathname.slice(path.length).split('/').filter(Boolean).map(decodePart);
    if (reading) {
      if (parts.length === 0) {
        if (wantsJson(req, url)) return sendJson(res, 200, snapshot());
        return sendPage(res, page);
      }
      if (parts.length === 1 && parts[0] === 'metrics') {
        const answer = await metrics.scrape();
        return send(res, answer.status, answer.contentType, answer.body);
      }
      throw new HttpError(404, 'Not Found');
    }
    if (method !== 'POST' && method !== 'DELETE')
      throw new HttpError(405, 'Method Not Allowed', { allow: 'GET, HEAD, POST, DELETE' });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw new HttpError(415, 'changes take a JSON body (Content-Type: application/json)');
    const body = await readJson(req);
    return sendJson(res, 200, { ok: true, ...(await act(method, parts, body)) });
  }

  const owns = (req: IncomingMessage): boolean => {
    const url = req.url ?? '/';
    if (!url.startsWith(path)) return false;
    const next = url.charCodeAt(path.length);
    // the path itself, or under it (`/__sticky/…`, `/__sticky?…`), but not `/__stickyfoo`
    return Number.isNaN(next) || next === 47 /* / */ || next === 63 /* ? */;
  };

  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    if (!owns(req)) {
      if (next !== undefined) next();
      else send(res, 404, 'text/plain; charset=utf-8', 'Not Found\n');
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://status.invalid');
    } catch {
      sendJson(res, 400, { ok: false, error: 'Bad Request' });
      return;
    }
    handle(req, res, url).catch((error: unknown) => {
      const status =
        error instanceof HttpError
          ? error.status
          : (error as Error | undefined)?.name === 'StickyConfigError'
            ? 400
            : 500;
      // Config errors name the option that is wrong; anything else stays vague (no stack traces).
      const message = status === 500 ? 'Internal Server Error' : (error as Error).message;
      if (res.headersSent) res.destroy();
      else {
        if (error instanceof HttpError)
          for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        sendJson(res, status, { ok: false, error: message });
      }
    });
  };
  const close = () => {
    clock.clearTimeout(sampler);
    stuck.close();
    router.off('reroute', onReroute);
    router.off('retry', onRetry);
  };
  return Object.assign(handler, { path, owns, close });
}

function normalizePath(path: unknown): string {
  if (path === undefined) return '/__sticky';
  if (typeof path !== 'string' || !/^\/[\w\-./~]*$/.test(path) || path.length < 2)
    throw new StickyConfigError('path', `must be a path such as '/__sticky' (got ${JSON.stringify(path)})`);
  return path.replace(/\/+$/, '');
}

/** A path segment, %-decoded; a bad escape is the client's mistake (400), not the server's. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, 'the path holds a malformed %-escape');
  }
}

/** The stickiness in force, with durations in seconds, as the page and the JSON show it. */
function describeStickiness(s: NormalizedStickiness): Record<string, unknown> {
  const out: Record<string, unknown> = { type: s.type };
  if (s.type === 'app-cookie') Object.assign(out, { appCookie: s.appCookie, mode: s.mode });
  if (s.type === 'header') out.header = s.header;
  if (s.type === 'query') out.param = s.param;
  if ('durationMs' in s) out.duration = s.durationMs / 1000;
  if ('maxLifetimeMs' in s && s.maxLifetimeMs !== null) out.maxLifetime = s.maxLifetimeMs / 1000;
  return out;
}

function summary(s: Record<string, unknown>): string {
  if (s.type === 'off') return 'off';
  if (s.type === 'app-cookie') return `app-cookie following ${s.appCookie} (${s.mode})`;
  return s.duration === undefined ? String(s.type) : `${s.type}, ${s.duration} s`;
}

/** `{ type: 'off' }` switches stickiness off; other fields pass to router.setStickiness, which validates them. */
function stickinessFrom(body: Record<string, unknown>): false | Record<string, unknown> {
  if (body.type === 'off' || body.type === false || body.enabled === false) return false;
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body))
    if (key !== 'enabled' && value !== '' && value !== null) options[key] = value;
  return options;
}

function wantsJson(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get('format');
  if (format) return format === 'json';
  const accept = String(req.headers.accept ?? '');
  return accept.includes('application/json') && !accept.includes('text/html');
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // A body parser mounted before the handler has read the stream already: use what it parsed.
  if (req.readableEnded) {
    const parsed = (req as { body?: unknown }).body;
    return Promise.resolve(isRecord(parsed) ? parsed : {});
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Too large: answer 413 and read the rest into nothing, so the answer can still be written.
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'Payload Too Large'));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        const value: unknown = JSON.parse(text);
        if (isRecord(value)) resolve(value);
        else reject(new HttpError(400, 'the body must be a JSON object'));
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', () => reject(new HttpError(400, 'Bad Request')));
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The page, locked down: its one script runs by nonce, it may fetch only its own origin, it cannot be framed
 * (clickjacking its buttons), and it never sends its URL, which may hold the token, as a Referer.
 */
function sendPage(res: ServerResponse, page: string): void {
  const nonce = randomBytes(16).toString('base64');
  res.setHeader(
    'content-security-policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  );
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  send(res, 200, 'text/html; charset=utf-8', page.replace('<script>', `<script nonce="${nonce}">`));
}
