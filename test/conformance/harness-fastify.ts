// The conformance harness for @stickyroute/fastify: a real Fastify gateway on 127.0.0.1 (http or https)
// with the plugin registered, `trustProxy` as asked, and a route of its own beside the proxy.

import type { AddressInfo } from 'node:net';
import type { StickyOptions } from '@stickyroute/core';
import { sticky } from '@stickyroute/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import type { GatewayExtras, GatewayHarness, StartedGateway } from './harness';

export const fastifyHarness: GatewayHarness = {
  name: 'fastify',
  http2: true,
  limitsServer: true,
  async start(options: StickyOptions, extras: GatewayExtras = {}): Promise<StartedGateway> {
    const trustProxy = extras.trustProxy ?? false;
    const app: FastifyInstance = (
      extras.http2
        ? Fastify({ http2: true, https: { ...extras.http2, allowHTTP1: true }, trustProxy })
        : extras.https
          ? Fastify({ https: extras.https, trustProxy })
          : Fastify({ trustProxy })
    ) as FastifyInstance;
    app.get('/own-route', async () => ({ own: true, framework: 'fastify' }));
    await app.register(sticky, { ...options, prefix: extras.prefix });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    return {
      url: `${extras.https || extras.http2 ? 'https' : 'http'}://127.0.0.1:${port}`,
      router: app.sticky,
      close: () => app.close(),
    };
  },
};
