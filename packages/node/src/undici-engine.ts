// The node handler's engine: each attempt is an undici dispatch on the backend's keep-alive Pool, its
// response streamed to node:http's response with backpressure. The exchange (core) decides everything else.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  closedAfterEarlierResponses,
  type Exchange,
  type ExchangeEngine,
  type Reply,
  writeReply,
} from '@stickyroute/core/adapter';
import type { UpstreamPools } from '@stickyroute/undici-pools';
import { type Dispatcher, util } from 'undici';

/** undici frames the request body itself and node:http the response's: `transfer-encoding` stops here. */
const FRAMED_BY_UNDICI = { dropFraming: true } as const;

export class UndiciEngine implements ExchangeEngine<ServerResponse> {
  constructor(private readonly pools: UpstreamPools) {}

  send(exchange: Exchange<ServerResponse>): void {
    this.pools.dispatch(
      exchange.route!.backend!,
      {
        path: exchange.url,
        method: exchange.method,
        headers: exchange.upstreamHeaders(FRAMED_BY_UNDICI),
        body: exchange.attemptBody(),
      },
      new Attempt(exchange),
    );
  }

  reply(exchange: Exchange<ServerResponse>, reply: Reply): void {
    writeReply(exchange.client, reply);
  }

  abort(exchange: Exchange<ServerResponse>, reason?: Error): void {
    (exchange.attempt as Abort | undefined)?.(reason ?? new Error('aborted'));
  }
}

type Abort = (reason?: Error) => void;

/**
 * One attempt's undici handler: the upstream's answer, written to the client's response. undici's first
 * handler methods (onConnect/onHeaders/onData, still native in v7): its controller API is adapted to them
 * per request and parses the headers into an object, which costs more than the exchange's whole decision.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private resume: (() => void) | null = null;

  constructor(private readonly exchange: Exchange<ServerResponse>) {}

  onConnect(abort: Abort): void {
    this.exchange.attempt = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx informational: the final answer follows
    const res = this.exchange.client;
    if (res.destroyed) {
      (this.exchange.attempt as Abort)(new Error('client gone'));
      return false;
    }
    try {
      const headers = this.exchange.responseHeaderList(rawHeaders, util.headerNameToString, true);
      res.writeHead(statusCode, headers as OutgoingHttpHeaders);
    } catch (error) {
      // A header node refuses to send (an invalid character): the answer is a 502, not a crash.
      (this.exchange.attempt as Abort)(error as Error);
      return false;
    }
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.exchange.client;
    if (res.write(chunk)) return true;
    // The client reads slower than the upstream sends: undici pauses the upstream until the client drains.
    res.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.exchange.client.end();
  }

  onError(error: Error): void {
    this.exchange.failed(error, closedAfterEarlierResponses(error));
  }
}
