// WebSocket (and any other HTTP/1.1 Upgrade) proxying for `server.on('upgrade', handler.upgrade)`: the
// request is routed by the same stickiness as an HTTP request (the balancer cookie sent with the handshake
// pins it), forwarded with node:http's upgrade request, and once the backend answers 101 the two raw
// sockets are piped together. No balancer cookie is set on a 101: browsers ignore cookies there.

import http, { type IncomingHttpHeaders, type IncomingMessage, STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { copyUpstreamHeaders, type Reply, type Route, type RouteRequest } from '@stickyroute/core';
import { clientIp, isSecure } from './client-address';
import type { Gateway } from './proxy-exchange';

const UPGRADE = { upgrade: true, dropFraming: true } as const;

export class UpgradeExchange implements RouteRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly remoteAddress: string | undefined;
  readonly secure: boolean;
  private route: Route | null = null;
  private released = false;

  constructor(
    private readonly gateway: Gateway,
    req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
  ) {
    this.method = req.method ?? 'GET';
    this.url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    this.headers = req.headers;
    this.remoteAddress = req.socket.remoteAddress;
    this.ip = clientIp(req, gateway.trustProxy);
    this.secure = isSecure(req, gateway.trustProxy);
    // A client that resets mid-handshake must not crash the gateway; the close below releases the route.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.release());
  }

  async start(): Promise<void> {
    const router = this.gateway.router;
    let route: Route;
    try {
      route = await router.route(this);
    } catch {
      this.reply(router.reply(502));
      return;
    }
    this.route = route;
    if (this.socket.destroyed) this.release();
    else if (route.backend === null) this.reply(router.reply(503));
    else this.connect(route);
  }

  private connect(route: Route): void {
    const backend = route.backend!;
    const secure = backend.url.protocol === 'https:';
    // Connection: Upgrade and the Upgrade header go on; the rest of the hop-by-hop headers stop here.
    const headers = copyUpstreamHeaders(this.headers, route.upstreamHeaders, UPGRADE);
    const upstream = (secure ? https : http).request({
      host: backend.url.hostname.replace(/^\[|\]$/g, ''),
      port: backend.url.port || (secure ? 443 : 80),
      method: this.method,
      path: this.url,
      headers,
      agent: false,
      timeout: this.gateway.router.timeoutMs,
    });
    upstream.on('timeout', () =>
      upstream.destroy(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })),
    );
    upstream.on('upgrade', (response, upstreamSocket, upstreamHead) =>
      this.upgraded(route, response, upstreamSocket, upstreamHead),
    );
    upstream.on('response', (response) => this.refused(route, response));
    upstream.on('error', (error) => void this.failed(route, error));
    upstream.end();
  }

  /** The backend switched protocols: relay its 101 and pipe the two sockets together. */
  private upgraded(route: Route, response: IncomingMessage, upstream: Socket, upstreamHead: Buffer): void {
    this.gateway.router.succeeded(route);
    const client = this.socket;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    upstream.setTimeout(0);
    upstream.on('error', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.write(statusAndHeaders(response, response.rawHeaders));
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (this.head.length > 0) upstream.write(this.head);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  /** The backend answered without upgrading (403, 426…): relay that answer and close. */
  private refused(route: Route, response: IncomingMessage): void {
    this.gateway.router.succeeded(route);
    const raw: string[] = [];
    for (let i = 0; i < response.rawHeaders.length; i += 2) {
      const name = response.rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive') continue;
      raw.push(name, response.rawHeaders[i + 1]!);
    }
    raw.push('Connection', 'close');
    this.socket.write(statusAndHeaders(response, raw));
    response.pipe(this.socket);
  }

  private async failed(route: Route, error: Error): Promise<void> {
    const next = await this.gateway.router.failover(route, {
      error,
      bodySent: false,
      responseStarted: false,
    });
    if (next.retry !== undefined) {
      this.route = next.retry;
      if (this.socket.destroyed) this.release();
      else this.connect(next.retry);
    } else this.reply(next.reply);
  }

  private reply(reply: Reply): void {
    if (this.socket.destroyed) return;
    let head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\n`;
    for (const name in reply.headers) head += `${name}: ${reply.headers[name]}\r\n`;
    head += `Content-Length: ${Buffer.byteLength(reply.body)}\r\nConnection: close\r\n\r\n`;
    this.socket.end(head + reply.body);
  }

  private release(): void {
    if (this.released || this.route === null) return;
    this.released = true;
    this.gateway.router.release(this.route);
  }
}

function statusAndHeaders(response: IncomingMessage, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? STATUS_CODES[response.statusCode ?? 502] ?? ''}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}
