// One-line mounts for frameworks whose middleware is not `(req, res, next)`: the handler writes node's
// response itself, so Koa must be told not to respond (`ctx.respond = false`) and Fastify must let go of the
// reply (`reply.hijack()`). Typed by the shapes they use, so this package depends on neither framework.
// Express and node:http take the handler as it is.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusHandler } from './status-handler';

/** What the Koa mount reads of a Koa context. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  respond?: boolean;
}

/** What the Fastify mount uses of a request and a reply. */
export interface FastifyRequestLike {
  raw: IncomingMessage;
}
export interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): unknown;
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

/** `fastify.addHook('onRequest', fastifyStatus(status))`, once `fastify.sticky` exists. */
export function fastifyStatus(status: StatusHandler) {
  return (request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void): void => {
    if (!status.owns(request.raw)) {
      done();
      return;
    }
    // Fastify stops its own lifecycle for this request; done() is not called for a hijacked reply.
    reply.hijack();
    status(request.raw, reply.raw);
  };
}
