// How an upstream error is read: refused (the connection never opened, so nothing reached the backend),
// reset (the connection broke before any response byte: the request may have reached the app), a timeout
// (504), or anything else (502).

import type { FailureKind } from '../types';

const REFUSED_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
]);

/** RFC 9110 §9.2.2: methods a client may repeat with the same effect. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method) || IDEMPOTENT.has(method.toUpperCase());
}

function known(code: string): boolean {
  return REFUSED_CODES.has(code) || RESET_CODES.has(code) || TIMEOUT_CODES.has(code);
}

/** The first known code on the error or the causes it wraps (undici and reply-from wrap the socket error). */
function codeOf(error: unknown): string | undefined {
  // Bounded: a cause chain that loops must not loop here.
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && known(code)) return code;
    e = cause;
  }
  return undefined;
}

export function classifyUpstreamError(error: unknown): FailureKind {
  const code = codeOf(error);
  if (code === undefined) return 'other';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  // codeOf answers only known codes: neither a timeout nor a refusal, it is a reset.
  return REFUSED_CODES.has(code) ? 'refused' : 'reset';
}

/**
 * undici's "other side closed" on a connection that had already read earlier responses: the upstream closed a
 * kept-alive connection as it was reused (undici exposes no `reusedSocket`, but its SocketError carries the
 * socket's byte counts). Node's http client says the same with `ClientRequest.reusedSocket`.
 */
export function closedAfterEarlierResponses(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 3; depth++) {
    const { code, socket, cause } = e as {
      code?: unknown;
      socket?: { bytesRead?: unknown };
      cause?: unknown;
    };
    if (code === 'UND_ERR_SOCKET' && typeof socket?.bytesRead === 'number') return socket.bytesRead > 0;
    e = cause;
  }
  return false;
}

/**
 * The error an exchange aborts its attempt with when no response headers arrived within `timeout` (read as a
 * timeout: 504). Made only when the deadline passes: an Error captures a stack, too dear for every request.
 */
export function upstreamTimeoutError(): Error {
  return Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' });
}
