// Writes the router's ready-made error answers (502, 503, 504): on a response, or as raw bytes on the socket
// of a WebSocket upgrade that could not be proxied. Bodies carry no details of the failure.

import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Reply } from '../types';

/** Sends `reply`; if a response had already begun, the connection is cut instead (the client sees it fail). */
export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(reply.status, reply.headers).end(reply.body);
}

/** `reply` as the bytes of an HTTP/1.1 response, for a raw socket. */
export function rawReply(reply: Reply): string {
  const headers = {
    ...reply.headers,
    'content-length': String(Buffer.byteLength(reply.body)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\n${lines.join('')}\r\n${reply.body}`;
}
