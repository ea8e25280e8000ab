// A WebSocket client for integration suites (the `ws` package): connect with chosen headers (a Cookie),
// then ask and await the next message. Every wait is bounded.

import WebSocket from 'ws';

export interface WsConversation {
  /** The Set-Cookie lines of the 101 that opened it. */
  setCookies: string[];
  /** Sends `message` and resolves with the next message received. */
  ask(message: string): Promise<string>;
  close(): Promise<void>;
}

export interface WsConnectOptions {
  headers?: Record<string, string>;
  /** Trust this certificate (PEM) for wss: URLs. */
  ca?: string;
  timeoutMs?: number;
}

/** Opens a WebSocket to `url` (ws: or wss:); rejects with the HTTP status when the upgrade is refused. */
export function openWebSocket(url: string, options: WsConnectOptions = {}): Promise<WsConversation> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const ws = new WebSocket(url, {
    headers: options.headers,
    handshakeTimeout: timeoutMs,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const inbox: string[] = [];
  const waiters: Array<(message: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const waiter = waiters.shift();
    if (waiter) waiter(text);
    else inbox.push(text);
  });
  const conversation: WsConversation = {
    setCookies: [],
    ask(message) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no WebSocket answer to ${message}`)), timeoutMs);
        const onClose = () => {
          clearTimeout(timer);
          reject(new Error(`WebSocket closed before answering ${message}`));
        };
        ws.once('close', onClose);
        waiters.push((text) => {
          clearTimeout(timer);
          ws.off('close', onClose);
          resolve(text);
        });
        const queued = inbox.shift();
        if (queued !== undefined) waiters.shift()?.(queued);
        ws.send(message);
      });
    },
    close() {
      return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        const timer = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.close();
      });
    },
  };
  ws.once('upgrade', (response) => {
    const lines = response.headers['set-cookie'];
    conversation.setCookies = lines === undefined ? [] : Array.isArray(lines) ? lines : [lines];
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(conversation));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new Error(`WebSocket upgrade refused with ${res.statusCode}`));
    });
    ws.once('error', reject);
  });
}
