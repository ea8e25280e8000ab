// Requests that ask to switch protocols to anything but WebSocket — `Upgrade: h2c`, which `curl --http2`
// sends to plain-http URLs — are served as the ordinary requests they also are (RFC 9110 §7.8 lets a
// server ignore Upgrade). Node hands every Upgrade request to the server's 'upgrade' listeners, so the
// gateway re-dispatches it as a request on the same server, with Upgrade and HTTP2-Settings gone and the
// connection closed after the answer (node's HTTP parser has already left that socket).

import type { EventEmitter } from 'node:events';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BAD_TARGET_REPLY } from '../routing/error-replies';
import { rawReply } from './reply-writer';

/** The request asks for a WebSocket (an `Upgrade` list naming `websocket`). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return upgrade !== undefined && /(^|,)\s*websocket\s*(,|$)/i.test(upgrade);
}

/**
 * Serves an upgrade request as a plain request through the server's own 'request' listeners (the app:
 * Express, Koa, Fastify, a node:http handler). A body is taken as its Content-Length says (a chunked one is
 * refused with 400: the parser that would decode it is gone).
 */
export function serveAsPlainRequest(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  // A socket no server accepted has `server: null`; another Duplex has none at all.
  const server = (socket as Duplex & { server?: EventEmitter | null }).server;
  const headers = req.headers;
  const length = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
  if (server == null || headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length)) {
    socket.end(rawReply(BAD_TARGET_REPLY));
    return;
  }
  // Node ended the upgrade request's stream (its body, if any, is in `head`): a request of its own carries it.
  const plain = new IncomingMessage(socket as Socket);
  plain.method = req.method;
  plain.url = req.url;
  plain.httpVersionMajor = req.httpVersionMajor;
  plain.httpVersionMinor = req.httpVersionMinor;
  plain.httpVersion = req.httpVersion;
  delete headers.upgrade;
  delete headers['http2-settings'];
  headers.connection = 'close';
  plain.headers = headers;
  plain.rawHeaders = withoutUpgrade(req.rawHeaders);
  feedBody(plain, socket, head, length);
  const res = new ServerResponse(plain);
  res.assignSocket(socket as Socket);
  res.shouldKeepAlive = false;
  res.on('finish', () => (socket as Socket).destroySoon());
  server.emit('request', plain, res);
}

function withoutUpgrade(raw: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'upgrade' || name === 'http2-settings') continue;
    kept.push(raw[i]!, name === 'connection' ? 'close' : raw[i + 1]!);
  }
  return kept;
}

/** The body's bytes, from what came with the head and then the socket, up to `length`. */
function feedBody(req: IncomingMessage, socket: Duplex, head: Buffer, length: number): void {
  let left = length;
  const take = (chunk: Buffer): void => {
    const part = chunk.subarray(0, left);
    left -= part.length;
    if (part.length > 0) req.push(part);
    if (left === 0) {
      socket.off('data', take);
      req.complete = true;
      req.push(null);
    }
  };
  take(head);
  if (left > 0) socket.on('data', take);
}
