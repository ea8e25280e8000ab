// The gateway's own answers when it cannot proxy: 502, 503 (with Retry-After), 504. Bodies never carry
// details of the failure (no addresses, no stack traces).

import type { Reply } from '../types';

const STATUS_TEXT: Record<number, string> = {
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export type ErrorStatus = 502 | 503 | 504;

export function errorReply(status: ErrorStatus, retryAfterSeconds: number): Reply {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (status === 503) headers['retry-after'] = String(retryAfterSeconds);
  return { status, headers, body: `${STATUS_TEXT[status]}\n` };
}
