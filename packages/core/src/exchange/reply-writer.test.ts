// The router's ready-made error answers, written on a response or as raw bytes on an upgrade's socket.

import { once } from 'node:events';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Reply } from '../types';
import { rawReply, writeReply } from './reply-writer';

const REPLY: Reply = {
  status: 503,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' },
  body: 'Service Unavailable — no backend',
};

describe('rawReply', () => {
  it('is a complete HTTP/1.1 response: status line, headers, byte length, connection close, body', () => {
    expect(rawReply(REPLY)).toBe(
      'HTTP/1.1 503 Service Unavailable\r\n' +
        'content-type: text/plain; charset=utf-8\r\n' +
        'retry-after: 5\r\n' +
        `content-length: ${Buffer.byteLength(REPLY.body)}\r\n` +
        'connection: close\r\n' +
        '\r\n' +
        REPLY.body,
    );
    expect(Buffer.byteLength(REPLY.body)).toBeGreaterThan(REPLY.body.length);
  });
});

describe('writeReply', () => {
  let server: Server;
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  async function fetchFrom(handler: Parameters<typeof createServer>[1]) {
    server = createServer(handler);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const req = get({ host: '127.0.0.1', port, path: '/' });
    return req;
  }

  it('writes the status, headers and body of the reply', async () => {
    const req = await fetchFrom((_req, res) => writeReply(res, REPLY));
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(body).toBe(REPLY.body);
  });

  it('cuts the connection when the response had already begun, rather than append a second answer', async () => {
    const req = await fetchFrom((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => writeReply(res, REPLY));
    });
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    expect(res.statusCode).toBe(200);
    const [error] = (await once(res, 'error')) as [Error];
    expect(error.message).toBe('aborted');
  });
});
