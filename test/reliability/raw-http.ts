// Byte-exact HTTP for hostile input: a request written as raw bytes on a net.Socket (so it may carry bare
// CR or LF, NUL, non-UTF-8 bytes, obsolete line folding), and the raw answer read back.

import net from 'node:net';

export interface RawAnswer {
  /** The status code on the answer's first line, or null when the gateway closed without answering. */
  status: number | null;
  /** The head (status line and headers) as latin1 text. */
  head: string;
  /** How the exchange ended: the gateway closed the connection, or we gave up waiting. */
  ended: 'closed' | 'timeout';
}

/** Writes `request` to the gateway at `url` and reads until the gateway closes the connection. */
export function rawExchange(url: string, request: Buffer | string, timeoutMs = 3000): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: RawAnswer['ended']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.split('\r\n\r\n')[0] ?? '';
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: match ? Number(match[1]) : null, head, ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

/** A request head in latin1 (every char one byte): `lines` joined by CRLF, ending the head. */
export function head(lines: readonly string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
