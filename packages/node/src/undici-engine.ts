// The node handler's engine: each attempt is an undici dispatch on the backend's keep-alive Pool, its
// response streamed to node:http's response with backpressure. The exchange (core) decides everything else.

import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  closedAfterEarlierResponses,
  type Exchange,
  type ExchangeEngine,
  type Reply,
  writeReply,
} from '@stickyroute/core/adapter';
import type { UpstreamPools } from '@stickyroute/undici-pools';
import type { Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;

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
    (exchange.attempt as Controller | undefined)?.abort(reason ?? new Error('aborted'));
  }
}

/** One attempt's undici handler: the upstream's answer, written to the client's response. */
class Attempt implements Dispatcher.DispatchHandler {
  constructor(private readonly exchange: Exchange<ServerResponse>) {}

  onRequestStart(controller: Controller): void {
    this.exchange.attempt = controller;
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx informational: the final answer follows
    const res = this.exchange.client;
    if (res.destroyed) return void controller.abort(new Error('client gone'));
    try {
      res.writeHead(statusCode, this.exchange.responseHeaders(headers, true));
    } catch (error) {
      // A header node refuses to send (an invalid character): the answer is a 502, not a crash.
      controller.abort(error as Error);
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const res = this.exchange.client;
    if (res.write(chunk)) return;
    // The client reads slower than the upstream sends: pause the upstream until the client drains.
    controller.pause();
    res.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.exchange.client.end();
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.exchange.failed(error, closedAfterEarlierResponses(error));
  }
}
