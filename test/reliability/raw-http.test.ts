// The hostile-input suite trusts rawExchange to tell a whole answer from a cut one, a closed connection and
// a hang: each verdict here comes from a real server on 127.0.0.1 that misbehaves that way on purpose.

import net from 'node:net';
import { head, rawExchange } from './raw-http';

/** A TCP server that answers every connection with `respond` (raw bytes), and closes it only if told. */
async function rawServer(
  respond: (socket: net.Socket) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => respond(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const request = head(['GET / HTTP/1.1', 'Host: 127.0.0.1']);

async function exchangeWith(respond: (socket: net.Socket) => void, timeoutMs = 3000) {
  const server = await rawServer(respond);
  try {
    return await rawExchange(server.url, request, timeoutMs);
  } finally {
    await server.close();
  }
}

test('an answer whose Content-Length arrived is complete while the connection stays open', async () => {
  const answer = await exchangeWith((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'));
  expect(answer).toEqual({
    status: 200,
    head: 'HTTP/1.1 200 OK\r\nContent-Length: 5',
    ended: 'complete',
    complete: true,
  });
});

test('a chunked answer is complete at its last chunk, not before', async () => {
  const whole = await exchangeWith((s) =>
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
  );
  expect(whole).toMatchObject({ status: 200, ended: 'complete', complete: true });
  const cut = await exchangeWith((s) =>
    s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
  );
  expect(cut).toMatchObject({ status: 200, ended: 'closed', complete: false });
});

test('a body shorter than its Content-Length when the connection closes is cut', async () => {
  const answer = await exchangeWith((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello'));
  expect(answer).toMatchObject({ status: 200, ended: 'closed', complete: false });
});

test('an answer without framing is complete when the connection closes (node’s 400)', async () => {
  const answer = await exchangeWith((s) => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
  expect(answer).toMatchObject({ status: 400, ended: 'closed', complete: true });
});

test('a connection closed without a status line has no status', async () => {
  const answer = await exchangeWith((s) => s.end());
  expect(answer).toMatchObject({ status: null, ended: 'closed', complete: false });
});

test('a server that never finishes its answer is a timeout within the bounded wait', async () => {
  const answer = await exchangeWith((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel'), 200);
  expect(answer).toMatchObject({ status: 200, ended: 'timeout', complete: false });
});
