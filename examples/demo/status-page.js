// The gateway's status page, `/__sticky`: a plain node `(req, res, next)` handler on the core router, so it
// sits in front of any adapter (Express, Koa, Fastify) on the same node:http server, or on a listener of
// its own. It shows every backend (state, weight, active and total requests, clients stuck to it, share of
// traffic) and changes the pool and the stickiness at run time, as a cloud console does. Demo code, not a
// package: see examples/demo/README.md for the endpoints.
//
// It is off unless a gateway mounts it, and it can change the pool, so it can require a token (Bearer
// header or `?token=`); every change must be a POST/DELETE with a JSON body, which a cross-site form cannot
// send, and the gateway binds to 127.0.0.1 by default.

const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { createHash, timingSafeEqual } = require('node:crypto');
const { StickyConfigError } = require('@stickyroute/core');
const { StuckClients } = require('./stuck-clients');
const { createStatusMetrics } = require('./status-metrics');

const MAX_BODY_BYTES = 4096;
/** Share of traffic is shown over this many recent seconds (and since start). */
const RECENT_WINDOW_S = 10;
const PAGE = readFileSync(join(__dirname, 'status-page.html'), 'utf8');

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {{
 *   router: import('@stickyroute/core').StickyRouter,
 *   path?: string,
 *   token?: string,
 *   framework?: string,
 *   appCookie?: string,
 *   addInstance?: () => Promise<{ url: string, id?: string }>,
 * }} options
 */
function createStatusPage({
  router,
  path = '/__sticky',
  token,
  framework = '',
  appCookie = 'PHPSESSID',
  addInstance,
}) {
  const stuck = new StuckClients(router);
  const metrics = createStatusMetrics(
    () => router,
    () => stuck.counts(),
  );
  const page = PAGE.replace('"__STATUS_CONFIG__"', () =>
    JSON.stringify({ base: path, framework, appCookie, canAddInstance: addInstance !== undefined }).replace(
      /</g,
      '\\u003c',
    ),
  );
  const expectedToken = token ? digest(token) : null;

  // Totals per backend, sampled each second, for the share of recent traffic.
  const samples = [];
  const sample = () => {
    const totals = new Map(router.stats().backends.map((b) => [b.id, b.total]));
    samples.push(totals);
    if (samples.length > RECENT_WINDOW_S + 1) samples.shift();
  };
  sample();
  const sampler = setInterval(sample, 1000);
  sampler.unref();

  function snapshot() {
    const stats = router.stats();
    const counts = stuck.counts();
    const oldest = samples[0];
    const recent = stats.backends.map((b) => Math.max(0, b.total - (oldest.get(b.id) ?? 0)));
    const recentSum = recent.reduce((a, b) => a + b, 0);
    const totalSum = stats.backends.reduce((a, b) => a + b.total, 0);
    return {
      framework,
      algorithm: stats.algorithm,
      stickiness: describeStickiness(stats.stickiness),
      requests: stats.requests,
      recentWindowSeconds: RECENT_WINDOW_S,
      canAddInstance: addInstance !== undefined,
      backends: stats.backends.map((b, i) => ({
        ...b,
        stuckClients: counts.get(b.id) ?? 0,
        share: totalSum === 0 ? 0 : b.total / totalSum,
        recentRequests: recent[i],
        recentShare: recentSum === 0 ? 0 : recent[i] / recentSum,
      })),
    };
  }

  /** Applies one change; resolves to what the JSON answer says, with a `message` for people. */
  async function act(method, parts, body) {
    const pool = router.pool;
    if (parts[0] === 'stickiness' && parts.length === 1 && method === 'POST') {
      router.setStickiness(stickinessFrom(body));
      const stickiness = describeStickiness(router.getStickiness());
      return { stickiness, message: `stickiness is now ${summary(stickiness)}` };
    }
    if (parts[0] !== 'backends') throw new HttpError(404, 'Not Found');
    if (parts.length === 1 && method === 'POST') {
      let spec = body;
      if (typeof body.url !== 'string') {
        if (addInstance === undefined)
          throw new HttpError(400, 'give the new backend as { "url": "http://…" }');
        spec = await addInstance();
      }
      const added = pool.add({ url: spec.url, id: spec.id, weight: spec.weight });
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
        const timeout = body.timeout || '5m';
        pool.drain(id, { timeout });
        return {
          drain: id,
          message: `${id} is draining: no new clients; its own stay until it is removed in ${timeout}`,
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

  async function handle(req, res, url) {
    if (expectedToken !== null && !authorized(req, url, expectedToken)) {
      res.setHeader('www-authenticate', 'Bearer realm="stickyroute status"');
      throw new HttpError(401, 'a token is required (Authorization: Bearer …, or ?token=…)');
    }
    const parts = url.pathname.slice(path.length).split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (parts.length === 0) {
        if (wantsJson(req, url)) return sendJson(res, 200, snapshot());
        return send(res, 200, 'text/html; charset=utf-8', page);
      }
      if (parts.length === 1 && parts[0] === 'metrics')
        return send(res, 200, metrics.contentType, await metrics.metrics());
      throw new HttpError(404, 'Not Found');
    }
    if (method !== 'POST' && method !== 'DELETE') throw new HttpError(405, 'Method Not Allowed');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw new HttpError(415, 'changes take a JSON body (Content-Type: application/json)');
    const body = await readJson(req);
    return sendJson(res, 200, { ok: true, ...(await act(method, parts, body)) });
  }

  /** Serves the status page's paths; anything else goes to `next` (the gateway's framework). */
  function statusPage(req, res, next) {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== path && !url.pathname.startsWith(`${path}/`)) return next();
    handle(req, res, url).catch((error) => {
      const status =
        error instanceof HttpError ? error.status : error instanceof StickyConfigError ? 400 : 500;
      // Config errors name the option that is wrong; anything else stays vague (no stack traces).
      const message = status === 500 ? 'Internal Server Error' : error.message;
      if (!res.headersSent) sendJson(res, status, { ok: false, error: message });
      else res.destroy();
    });
  }
  statusPage.path = path;
  statusPage.close = () => clearInterval(sampler);
  return statusPage;
}

/** The stickiness in force, with durations in seconds, as the page and the JSON show it. */
function describeStickiness(s) {
  const out = { type: s.type };
  if (s.type === 'app-cookie') Object.assign(out, { appCookie: s.appCookie, mode: s.mode });
  if (s.type === 'header') out.header = s.header;
  if (s.type === 'query') out.param = s.param;
  if ('durationMs' in s) out.duration = s.durationMs / 1000;
  if ('maxLifetimeMs' in s && s.maxLifetimeMs !== null) out.maxLifetime = s.maxLifetimeMs / 1000;
  return out;
}

function summary(s) {
  if (s.type === 'off') return 'off';
  if (s.type === 'app-cookie') return `app-cookie following ${s.appCookie} (${s.mode})`;
  return s.duration === undefined ? s.type : `${s.type}, ${s.duration} s`;
}

/** `{ type: 'off' }` switches stickiness off; other fields pass to router.setStickiness, which validates them. */
function stickinessFrom(body) {
  if (body.type === 'off' || body.type === false || body.enabled === false) return false;
  const options = {};
  for (const [key, value] of Object.entries(body))
    if (key !== 'enabled' && value !== '' && value !== null) options[key] = value;
  return options;
}

function wantsJson(req, url) {
  const format = url.searchParams.get('format');
  if (format) return format === 'json';
  const accept = String(req.headers.accept ?? '');
  return accept.includes('application/json') && !accept.includes('text/html');
}

function digest(text) {
  return createHash('sha256').update(text).digest();
}

function authorized(req, url, expected) {
  const header = String(req.headers.authorization ?? '');
  const given = header.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  return given !== null && given !== '' && timingSafeEqual(digest(given), expected);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
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
        const value = JSON.parse(text);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) resolve(value);
        else reject(new HttpError(400, 'the body must be a JSON object'));
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', () => reject(new HttpError(400, 'Bad Request')));
  });
}

function send(res, status, type, body) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}

module.exports = { createStatusPage };
