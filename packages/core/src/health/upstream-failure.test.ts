// How upstream errors are read: refused (nothing reached the backend), reset, timeouts (504), or none of those,
// and when a failure is a kept-alive connection the upstream closed as it was reused.

import {
  classifyUpstreamError,
  closedAfterEarlierResponses,
  isIdempotent,
  upstreamTimeoutError,
} from './upstream-failure';

const coded = (code: string, extra: object = {}) => Object.assign(new Error(code), { code }, extra);

describe('classifyUpstreamError', () => {
  it.each([
    ['ECONNREFUSED', 'refused'],
    ['EHOSTUNREACH', 'refused'],
    ['ECONNRESET', 'reset'],
    ['UND_ERR_SOCKET', 'reset'],
    ['EPIPE', 'reset'],
    ['ETIMEDOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['EPROTO', 'other'],
  ])('%s is a %s failure', (code, kind) => {
    expect(classifyUpstreamError(coded(code))).toBe(kind);
  });

  it('reads the code of a wrapped cause (reply-from wraps undici)', () => {
    expect(classifyUpstreamError(coded('FST_REPLY_FROM_INTERNAL', { cause: coded('ECONNREFUSED') }))).toBe(
      'refused',
    );
  });

  it('reads a known code up to three causes deep; the outer known code wins; a loop of causes ends', () => {
    const deep = coded('A', { cause: coded('B', { cause: coded('C', { cause: coded('ETIMEDOUT') }) }) });
    expect(classifyUpstreamError(deep)).toBe('timeout');
    expect(classifyUpstreamError(coded('X', { cause: deep }))).toBe('other');
    expect(classifyUpstreamError(coded('ECONNRESET', { cause: coded('ECONNREFUSED') }))).toBe('reset');
    expect(classifyUpstreamError(coded('UNKNOWN', { cause: new Error('no code') }))).toBe('other');
    const one = coded('LOOP_A');
    const two = coded('LOOP_B', { cause: one });
    Object.assign(one, { cause: two });
    expect(classifyUpstreamError(one)).toBe('other');
    expect(classifyUpstreamError(Object.assign(coded('SELF'), { cause: undefined }))).toBe('other');
  });

  it('anything without a code is "other", never a throw', () => {
    for (const value of [undefined, null, 'text', 42, {}, new Error('plain')]) {
      expect(classifyUpstreamError(value)).toBe('other');
    }
  });
});

describe('closedAfterEarlierResponses', () => {
  const socketError = (bytesRead: number) =>
    coded('UND_ERR_SOCKET', { socket: { bytesRead, bytesWritten: 300 } });

  it('is true for undici closing a connection that had read earlier responses, also when wrapped', () => {
    expect(closedAfterEarlierResponses(socketError(384))).toBe(true);
    expect(closedAfterEarlierResponses(coded('UND_ERR_SOCKET', { cause: socketError(384) }))).toBe(true);
  });

  it('is false for a fresh connection, other errors and non-errors', () => {
    expect(closedAfterEarlierResponses(socketError(0))).toBe(false);
    expect(closedAfterEarlierResponses(coded('ECONNREFUSED'))).toBe(false);
    expect(closedAfterEarlierResponses(undefined)).toBe(false);
    expect(closedAfterEarlierResponses('UND_ERR_SOCKET')).toBe(false);
  });
});

test('idempotent methods per RFC 9110, in any case', () => {
  expect(['GET', 'head', 'OPTIONS', 'PUT', 'DELETE'].every(isIdempotent)).toBe(true);
  expect(['POST', 'PATCH', 'CONNECT'].some(isIdempotent)).toBe(false);
});

describe('closedAfterEarlierResponses at its edges', () => {
  const socketError = (bytesRead: number) => coded('UND_ERR_SOCKET', { socket: { bytesRead } });

  it('looks through two wrappers, not three, and never loops', () => {
    expect(closedAfterEarlierResponses(coded('A', { cause: coded('B', { cause: socketError(10) }) }))).toBe(
      true,
    );
    expect(
      closedAfterEarlierResponses(
        coded('A', { cause: coded('B', { cause: coded('C', { cause: socketError(10) }) }) }),
      ),
    ).toBe(false);
    const one = coded('A');
    Object.assign(one, { cause: coded('B', { cause: one }) });
    expect(closedAfterEarlierResponses(one)).toBe(false);
  });

  it('needs undici’s socket error with a byte count: another code, or no count, is not one', () => {
    expect(closedAfterEarlierResponses(coded('ECONNRESET', { socket: { bytesRead: 10 } }))).toBe(false);
    expect(closedAfterEarlierResponses(coded('UND_ERR_SOCKET', { socket: {} }))).toBe(false);
    expect(closedAfterEarlierResponses(coded('UND_ERR_SOCKET'))).toBe(false);
    expect(closedAfterEarlierResponses(socketError(0))).toBe(false);
  });
});

describe('upstreamTimeoutError', () => {
  it('is read as a timeout', () => {
    const error = upstreamTimeoutError();
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('upstream timed out');
    expect(classifyUpstreamError(error)).toBe('timeout');
  });
});

describe('closedAfterEarlierResponses with a null cause', () => {
  it('is false, not a throw', () => {
    expect(closedAfterEarlierResponses(coded('ECONNRESET', { cause: null }))).toBe(false);
  });
});
