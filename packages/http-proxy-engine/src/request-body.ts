// What an HPM-proxied request sends as its body: the client's stream, or — when a body parser mounted
// before the gateway (express.json(), koa-bodyparser) has read the stream — the bytes it read, or HPM's own
// re-encoding of what it parsed (fixRequestBody's rules for JSON, forms and text, so the upstream gets what
// HPM users get).

import type { IncomingMessage } from 'node:http';
import { fixRequestBody } from 'http-proxy-middleware';

/** `rawBody`: the exact bytes a parser kept (koa-bodyparser's `ctx.request.rawBody`), preferred when given. */
export function bodyOf(req: IncomingMessage, rawBody?: unknown): IncomingMessage | Buffer | string {
  if (!req.readableEnded) return req;
  if (typeof rawBody === 'string' || Buffer.isBuffer(rawBody)) return rawBody;
  return reencoded(req) ?? EMPTY;
}

const EMPTY = Buffer.alloc(0);

/** fixRequestBody writes to an upstream request; this one keeps what it writes. */
function reencoded(req: IncomingMessage): Buffer | undefined {
  let bytes: Buffer | undefined;
  const sink = {
    getHeader: (name: string) => req.headers[name.toLowerCase()],
    setHeader() {},
    write(data: string | Buffer) {
      bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    },
    destroy() {
      bytes = undefined;
    },
  };
  fixRequestBody(sink as never, req);
  return bytes;
}
