// The demo's gateway: the chosen framework (express, koa or fastify) with its stickyroute adapter in front
// of the app instances, and the status page (@stickyroute/status) mounted before the framework on the same
// node:http server, or on a listener of its own. The three frameworks differ only in how the adapter is
// mounted; everything the demo shows comes from the core router each adapter exposes.

const http = require('node:http');
const { createStatusHandler } = require('@stickyroute/status');

const FRAMEWORKS = ['express', 'koa', 'fastify'];

/**
 * Builds the framework's request handler with the sticky proxy in it.
 * Resolves to `{ router, handle(req, res), upgrade?, listen(server)?, close() }`.
 */
async function mountFramework(framework, stickyOptions, serverFor) {
  if (framework === 'express') {
    const express = require('express');
    const { sticky } = require('@stickyroute/express');
    const app = express();
    const middleware = sticky(stickyOptions);
    app.use(middleware);
    const server = serverFor(app);
    server.on('upgrade', middleware.upgrade);
    return { router: middleware.router, server, close: () => middleware.router.close() };
  }
  if (framework === 'koa') {
    const Koa = require('koa');
    const { sticky } = require('@stickyroute/koa');
    const app = new Koa();
    const middleware = sticky(stickyOptions);
    app.use(middleware);
    const server = serverFor(app.callback());
    server.on('upgrade', middleware.upgrade);
    return { router: middleware.router, server, close: () => middleware.router.close() };
  }
  if (framework === 'fastify') {
    const Fastify = require('fastify');
    const { sticky } = require('@stickyroute/fastify');
    let server;
    // Fastify makes its own server; serverFactory puts the status page in front of it, as for the others.
    const app = Fastify({
      serverFactory: (handler) => {
        server = serverFor(handler);
        return server;
      },
    });
    await app.register(sticky, stickyOptions);
    await app.ready();
    // app.close() closes the server Fastify was given too.
    return { router: app.sticky, server, closesServer: true, close: () => app.close() };
  }
  throw new Error(`unknown framework ${JSON.stringify(framework)} (one of ${FRAMEWORKS.join(', ')})`);
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/**
 * Starts the gateway. `status`: `false`, or `{ token?, port? }` (a port: the status page gets a listener of
 * its own on `host`, and the gateway does not serve it). Resolves to its URLs, its router and `close()`.
 */
async function startGateway({
  framework = 'express',
  port = 3000,
  host = '127.0.0.1',
  stickyOptions,
  status = false,
  appCookie,
  addInstance,
}) {
  let statusPage = null;
  const inFront = (handler) => (req, res) =>
    statusPage !== null && status.port === undefined
      ? statusPage(req, res, () => handler(req, res))
      : handler(req, res);
  const mounted = await mountFramework(framework, stickyOptions, (handler) =>
    http.createServer(inFront(handler)),
  );
  const { router, server } = mounted;
  if (status) {
    statusPage = createStatusHandler({
      router,
      token: status.token,
      title: `${framework} gateway`,
      appCookie,
      addInstance,
    });
  }
  const gatewayPort = await listen(server, port, host);
  const shown = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
  const url = `http://${shown}:${gatewayPort}`;
  let statusServer = null;
  let statusUrl = null;
  if (statusPage !== null) {
    if (status.port !== undefined) {
      statusServer = http.createServer((req, res) =>
        statusPage(req, res, () => {
          res.writeHead(302, { location: statusPage.path }).end();
        }),
      );
      statusUrl = `http://${shown}:${await listen(statusServer, status.port, host)}${statusPage.path}`;
    } else {
      statusUrl = `${url}${statusPage.path}`;
    }
  }

  async function close() {
    statusPage?.close();
    const servers = mounted.closesServer ? [statusServer] : [server, statusServer];
    server.closeAllConnections();
    for (const s of servers) {
      if (s === null) continue;
      s.closeAllConnections();
      await new Promise((done) => s.close(() => done()));
    }
    await mounted.close();
  }
  return { url, statusUrl, router, close };
}

module.exports = { startGateway, FRAMEWORKS };
