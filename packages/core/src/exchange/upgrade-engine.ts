// The core's own engine for WebSocket upgrades, shared by every adapter: the upgrade request goes to the
// backend the exchange names with node:http(s); when the backend switches protocols its 101 reaches the
// client with the balancer's cookies and the two sockets are piped together; any other answer is relayed
// and the connection closed. Proxy engines cannot do this part: http-proxy ends the client's socket when an
// upgrade fails (no retry elsewhere), @fastify/http-proxy answers 101 before the backend has.

import http, { type ClientRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { Reply } from '../types';
import type { Exchange, ExchangeEngine } from './exchange';
import { rawReply } from './reply-writer';

export interface UpgradeClient {
  socket: Duplex;
  /** The first bytes after the request's headers. */
  head: Buffer;
  /** The backend's socket, once the backend switched protocols. */
  tunnel: Socket | null;
}

const UPGRADE = { upgrade: true, dropFraming: true } as const;
/** Relayed as they came, but for what a plain answer on a closing connection must not carry. */
const NOT_RELAYED = new Set(['connection', 'keep-alive', 'transfer-encoding']);

export class UpgradeEngine implements ExchangeEngine<UpgradeClient> {
  /** `tls`: for https backends (a private CA, say); certificates are verified unless it says otherwise. */
  constructor(private readonly tls: ConnectionOptions = {}) {}

  send(exchange: Exchange<UpgradeClient>): void {
    const url = exchange.route!.backend!.url;
    const secure = url.protocol === 'https:';
    const upstream = (secure ? https : http).request({
      ...(secure ? this.tls : undefined),
      host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (secure ? 443 : 80),
      method: exchange.method,
      path: exchange.url,
      headers: exchange.upstreamHeaders(UPGRADE),
      agent: false,
    });
    exchange.attempt = upstream;
    upstream.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) =>
      this.upgraded(exchange, response, socket, head),
    );
    upstream.on('response', (response: IncomingMessage) => this.answered(exchange, response));
    upstream.on('error', (error) => exchange.failed(error, false));
    upstream.end();
  }

  reply(exchange: Exchange<UpgradeClient>, reply: Reply): void {
    const { socket, tunnel } = exchange.client;
    if (tunnel !== null || !socket.writable) socket.destroy();
    else socket.end(rawReply(reply));
  }

  abort(exchange: Exchange<UpgradeClient>, reason?: Error): void {
    const tunnel = exchange.client.tunnel;
    if (tunnel !== null) tunnel.destroy();
    else (exchange.attempt as ClientRequest | undefined)?.destroy(reason);
  }

  /** The backend switched protocols: relay its 101 (with the balancer's cookies) and pipe the sockets. */
  private upgraded(
    exchange: Exchange<UpgradeClient>,
    response: IncomingMessage,
    upstream: Socket,
    head: Buffer,
  ) {
    const client = exchange.client;
    client.tunnel = upstream;
    upstream.on('error', () => upstream.destroy());
    upstream.on('close', () => client.socket.destroy());
    const cookies = exchange.responseCookies(response.headers['set-cookie']);
    if (client.socket.destroyed) return void upstream.destroy();
    client.socket.write(statusLine(response) + headerLines(response.rawHeaders, null, cookies));
    if (head.length > 0) client.socket.write(head);
    if (client.head.length > 0) upstream.write(client.head);
    upstream.pipe(client.socket);
    client.socket.pipe(upstream);
  }

  /** The backend answered without switching (403, 426…): relay that answer and close. */
  private answered(exchange: Exchange<UpgradeClient>, response: IncomingMessage): void {
    const socket = exchange.client.socket;
    const cookies = exchange.responseCookies(response.headers['set-cookie']);
    if (socket.destroyed) return void response.destroy();
    socket.write(statusLine(response) + headerLines(response.rawHeaders, NOT_RELAYED, cookies, 'close'));
    response.pipe(socket);
  }
}

function statusLine(response: IncomingMessage): string {
  const status = response.statusCode ?? 502;
  return `HTTP/1.1 ${status} ${response.statusMessage || STATUS_CODES[status] || ''}\r\n`;
}

function headerLines(
  raw: readonly string[],
  skip: ReadonlySet<string> | null,
  cookies: readonly string[],
  connection?: string,
): string {
  let lines = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (skip?.has(raw[i]!.toLowerCase())) continue;
    lines += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  for (const cookie of cookies) lines += `Set-Cookie: ${cookie}\r\n`;
  if (connection !== undefined) lines += `Connection: ${connection}\r\n`;
  return `${lines}\r\n`;
}
