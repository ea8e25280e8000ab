// The legacy app the demo runs several times: it keeps its sessions in this process's memory, as old PHP or
// Java apps do, so an instance knows only the users who logged in on it. A login form, a page that says
// "Instance Number N" and whether you are logged in, a logout, and a PHPSESSID-style cookie with a lifetime.
// Node built-ins only: it stands for any app, not for a Node one.
//
// Run alone:  node examples/demo/app.js --instance 1 --port 3101   (PORT, INSTANCE, SESSION_COOKIE, SESSION_TTL)
// Started by start.js as a child process: it reports its port over IPC and exits when its parent goes away.

const http = require('node:http');
const { randomBytes } = require('node:crypto');

const MAX_BODY_BYTES = 4096;
const HUES = [210, 140, 20, 280, 330, 50, 180, 100];

/**
 * An http.Server for instance `instance`. Sessions live in a Map of this server only.
 * `sessionTtl` (seconds) is both the cookie's Max-Age and the session's life on the server.
 */
function createLegacyApp({ instance, sessionCookie = 'PHPSESSID', sessionTtl = 1800 }) {
  /** @type {Map<string, { user: string, since: number, expiresAt: number, views: number }>} */
  const sessions = new Map();
  let served = 0;

  function currentSession(req) {
    const id = readCookie(req.headers.cookie, sessionCookie);
    if (id === undefined) return { id: undefined, session: undefined };
    const session = sessions.get(id);
    if (session === undefined || session.expiresAt <= Date.now()) {
      sessions.delete(id);
      return { id, session: undefined };
    }
    return { id, session };
  }

  const server = http.createServer((req, res) => {
    served++;
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'GET /health') return send(res, 200, 'text/plain', 'ok\n');
    if (route === 'GET /whoami') {
      const { session } = currentSession(req);
      return send(
        res,
        200,
        'application/json',
        JSON.stringify({ instance, user: session?.user ?? null, served, sessions: sessions.size }),
      );
    }
    if (route === 'GET /' || route === 'HEAD /') {
      const { session } = currentSession(req);
      if (session) session.views++;
      const rerouted = req.headers['x-sticky-rerouted'] === '1';
      return send(
        res,
        200,
        'text/html; charset=utf-8',
        page({ instance, session, served, sessions: sessions.size, rerouted, sessionCookie }),
      );
    }
    if (route === 'POST /login') {
      return readForm(req, res, (form) => {
        const user = (form.get('user') ?? '').trim().slice(0, 40) || 'guest';
        const id = randomBytes(16).toString('hex');
        const now = Date.now();
        sessions.set(id, { user, since: now, expiresAt: now + sessionTtl * 1000, views: 0 });
        res.setHeader(
          'set-cookie',
          `${sessionCookie}=${id}; Path=/; Max-Age=${sessionTtl}; HttpOnly; SameSite=Lax`,
        );
        redirect(res, '/');
      });
    }
    if (route === 'POST /logout') {
      return readForm(req, res, () => {
        const { id } = currentSession(req);
        if (id !== undefined) sessions.delete(id);
        res.setHeader('set-cookie', `${sessionCookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
        redirect(res, '/');
      });
    }
    send(res, 404, 'text/plain', 'Not Found\n');
  });
  // Expired sessions are dropped lazily on lookup; this sweep bounds memory for users who never come back.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, session] of sessions) if (session.expiresAt <= now) sessions.delete(id);
  }, 60_000);
  sweep.unref();
  server.on('close', () => clearInterval(sweep));
  return server;
}

function page({ instance, session, served, sessions, rerouted, sessionCookie }) {
  const hue = HUES[(instance - 1) % HUES.length];
  const who = session
    ? `<p class="state in">Logged in as <b>${escapeHtml(session.user)}</b> since ${new Date(session.since).toLocaleTimeString('en-GB')} (${session.views} page ${session.views === 1 ? 'view' : 'views'} in this session)</p>
       <form method="post" action="/logout"><button type="submit">Log out</button></form>`
    : `<p class="state out">Not logged in</p>
       <form method="post" action="/login"><label>Name <input name="user" value="alice" autocomplete="off"></label>
       <button type="submit">Log in</button></form>`;
  const reroute = rerouted
    ? '<p class="note">The gateway moved you here from another instance (x-sticky-rerouted): this instance does not know your old session.</p>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Instance Number ${instance}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: hsl(${hue} 60% 96%); color: #1d2330; }
  main { max-width: 34rem; margin: 3rem auto; padding: 2rem; background: #fff; border-radius: 12px;
         border-top: 10px solid hsl(${hue} 65% 45%); box-shadow: 0 2px 12px #0002; }
  h1 { margin: 0 0 .5rem; color: hsl(${hue} 65% 35%); }
  .state { font-size: 1.15rem; } .in { color: #176b2c; } .out { color: #8a4b00; }
  .note { background: #fff5d6; padding: .5rem .75rem; border-radius: 6px; }
  small { color: #667; } input { font: inherit; padding: .2rem .4rem; } button { font: inherit; padding: .25rem .9rem; }
</style></head>
<body><main>
  <h1 id="instance">Instance Number ${instance}</h1>
  ${reroute}
  ${who}
  <p><small>This instance keeps sessions in its own memory (${sessions} now) and has served ${served} requests.
  Session cookie: ${escapeHtml(sessionCookie)}. Reload the page: behind a sticky gateway you stay here.</small></p>
</main></body></html>
`;
}

function send(res, status, type, body) {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function redirect(res, location) {
  res.writeHead(303, { location, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

/** Reads a small urlencoded body; anything larger is refused rather than buffered. */
function readForm(req, res, then) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      send(res, 413, 'text/plain', 'Payload Too Large\n');
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (size <= MAX_BODY_BYTES) then(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  });
  req.on('error', () => {});
}

function readCookie(header, name) {
  if (typeof header !== 'string') return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

function escapeHtml(text) {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

/** Starts instance `instance` on `port` (0: a free one) and resolves to its URL. */
function listenLegacyApp({ instance, port = 0, host = '127.0.0.1', sessionCookie, sessionTtl }) {
  const server = createLegacyApp({ instance, sessionCookie, sessionTtl });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({ server, url: `http://${host}:${address.port}` });
    });
  });
}

function argument(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at !== -1 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
}

if (require.main === module) {
  const instance = Number(argument('instance', process.env.INSTANCE ?? '1'));
  const port = Number(argument('port', process.env.PORT ?? '0'));
  const sessionCookie = argument('session-cookie', process.env.SESSION_COOKIE ?? 'PHPSESSID');
  const sessionTtl = Number(argument('session-ttl', process.env.SESSION_TTL ?? '1800'));
  listenLegacyApp({ instance, port, sessionCookie, sessionTtl }).then(
    ({ server, url }) => {
      if (process.send) {
        process.send({ ready: true, url });
        // Started by the demo: leave with it, even when it was killed without a chance to stop us.
        process.on('disconnect', () => process.exit(0));
      } else {
        console.log(`instance ${instance} on ${url}`);
      }
      const stop = () => server.close(() => process.exit(0)).closeAllConnections();
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (error) => {
      console.error(`instance ${instance}: cannot listen on port ${port}: ${error.message}`);
      process.exit(1);
    },
  );
}

module.exports = { createLegacyApp, listenLegacyApp };
