// One-line mounts for frameworks whose middleware is not `(req, res, next)`: the handler writes node's
// response itself, so Koa must be told not to respond (`ctx.respond = false`), and Fastify gets the status
// paths as routes whose replies are hijacked (a hook would run after the sticky plugin had already routed
// the request). Typed by the shapes they use, so this package depends on neither framework. Express and
// node:http take the handler as it is.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusHandler } from './status-handler';

/** What the Koa mount reads of a Koa context. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

/**
 * What the Fastify mount uses of a Fastify instance: the plugin's parameter asks for `route` only, so that a
 * real FastifyInstance (whose parser methods are heavily overloaded) is accepted as it is.
 */
export interface FastifyLike {
  route(options: object): unknown;
}
interface FastifyScope {
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(
    type: string,
    parser: (request: unknown, payload: unknown, done: (error: null) => void) => void,
  ): unknown;
  route(options: {
    method: string[];
    url: string;
    handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): unknown }) => void;
  }): unknown;
}

/** `app.use(koaStatus(status))`, before the sticky middleware. */
export function koaStatus(status: StatusHandler) {
  return (ctx: KoaContextLike, next: () => Promise<unknown>): Promise<unknown> => {
    if (!status.owns(ctx.req)) return next();
    ctx.respond = false;
    // Settles when the answer is out, so Koa middleware around it (a logger) sees the request end then.
    const finished = new Promise<void>((resolve) => ctx.res.once('close', () => resolve()));
    status(ctx.req, ctx.res);
    return finished;
  };
}

/**
 * `await fastify.register(fastifyStatus(status))`, once `fastify.sticky` exists: the status paths become
 * routes of their own, which Fastify prefers to the sticky plugin's catch-all, so a status request is never
 * routed to a backend. In their own scope the body is left unread for the handler, which reads it itself.
 */
export function fastifyStatus(status: StatusHandler) {
  return async function stickyrouteStatus(instance: FastifyLike): Promise<void> {
    const scope = instance as FastifyScope;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const handler = (
      request: { raw: IncomingMessage },
      reply: { raw: ServerResponse; hijack(): unknown },
    ) => {
      reply.hijack(); // the handler writes node's response itself
      status(request.raw, reply.raw);
    };
    // HEAD comes with GET (Fastify's exposeHeadRoutes); the handler answers the other methods 405.
    const method = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'];
    scope.route({ method, url: status.path, handler });
    scope.route({ method, url: `${status.path}/*`, handler });
  };
}
