// The gateway's own answers when it cannot or need not proxy: 502, 503 (with Retry-After), 504, a 400 for a
// request target no backend should see, and the answer to `OPTIONS *` (a question about the gateway itself).
// Bodies never carry details of the failure (no addresses, no stack traces).

import type { Reply } from '../types';

const STATUS_TEXT: Record<number, string> = {
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export type ErrorStatus = 502 | 503 | 504;

/** `OPTIONS *` asks the server, not a resource: the gateway answers it (RFC 9110 §9.3.7). */
export const OPTIONS_REPLY: Reply = Object.freeze({
  status: 200,
  headers: { allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length': '0' },
  body: '',
});

/** A request target no backend should see (`*` with another method than OPTIONS). */
export const BAD_TARGET_REPLY: Reply = Object.freeze({
  status: 400,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' },
  body: 'Bad Request\n',
});

export function errorReply(status: ErrorStatus, retryAfterSeconds: number): Reply {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (status === 503) headers['retry-after'] = String(retryAfterSeconds);
  return { status, headers, body: `${STATUS_TEXT[status]}\n` };
}
