// Byte-exact HTTP for hostile input: a request written as raw bytes on a net.Socket (so it may carry bare
// CR or LF, NUL, non-UTF-8 bytes, obsolete line folding), and the raw answer read back — up to the end of
// its body as its own framing says (Content-Length, chunked, or the connection closing), so a gateway that
// keeps the connection open after a complete answer is told apart from one that never finishes it.

import net from 'node:net';

export interface RawAnswer {
  /** The status code on the answer's first line, or null when there was no status line. */
  status: number | null;
  /** The head (status line and headers) as latin1 text. */
  head: string;
  /**
   * How the exchange ended: `complete`, the whole answer arrived (the gateway may keep the connection open);
   * `closed`, the gateway closed the connection first (an answer delimited by the close is complete too);
   * `timeout`, neither happened within the wait: the gateway hangs.
   */
  ended: 'complete' | 'closed' | 'timeout';
  /** A status line, headers and the whole body arrived. */
  complete: boolean;
}

/**
 * Writes `request` to the gateway at `url` and reads one answer. `timeoutMs` bounds the wait: a gateway
 * that neither finishes an answer nor closes the connection by then is reported as `ended: 'timeout'`.
 */
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
      const answer = readAnswer(Buffer.concat(chunks));
      const complete =
        answer.framing === 'complete' || (ended === 'closed' && answer.framing === 'until-close');
      resolve({ status: answer.status, head: answer.head, ended, complete });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (readAnswer(Buffer.concat(chunks)).framing === 'complete') finish('complete');
    });
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

/** A request head in latin1 (every char one byte): `lines` joined by CRLF, ending the head. */
export function head(lines: readonly string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** What has arrived of an answer: its head, and whether its body is complete by the answer's own framing. */
function readAnswer(bytes: Buffer): {
  status: number | null;
  head: string;
  framing: 'complete' | 'partial' | 'until-close';
} {
  const text = bytes.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const head = headEnd === -1 ? text : text.slice(0, headEnd);
  const match = /^HTTP\/1\.[01] (\d{3}) /.exec(head);
  const status = match ? Number(match[1]) : null;
  if (headEnd === -1 || status === null) return { status, head, framing: 'partial' };
  const body = text.slice(headEnd + 4);
  if (status === 204 || status === 304) return { status, head, framing: 'complete' };
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head))
    return { status, head, framing: chunkedBodyComplete(body) ? 'complete' : 'partial' };
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) return { status, head, framing: body.length >= Number(length[1]) ? 'complete' : 'partial' };
  return { status, head, framing: 'until-close' };
}

/** The chunked body ends with its last (zero-size) chunk and the empty line after any trailers. */
function chunkedBodyComplete(body: string): boolean {
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) return false;
    const size = Number.parseInt(body.slice(at, lineEnd), 16);
    if (Number.isNaN(size)) return false;
    // The last chunk's line, any trailers, then an empty line.
    if (size === 0) return body.indexOf('\r\n\r\n', lineEnd) !== -1;
    at = lineEnd + 2 + size + 2;
    if (at > body.length) return false;
  }
}
