// Simulated users for the load scenarios: each client is one "browser" with its own cookie jar and one
// keep-alive connection to the gateway, asking in a loop (GET /, and every `postEvery`-th request a POST)
// until stopped (all at once, or some of them: `leave`). With `login`, a client first logs in (POST /login)
// and every GET tells whether the app still knew its session. Every answer is logged with the backend that
// served it, so a test can tell which clients moved, when, which requests failed and which sessions were lost.

import http from 'node:http';
import { CookieJar } from '../support/http-client';

export interface Answer {
  /** When the request was sent and answered (ms since the load started). */
  sentAt: number;
  doneAt: number;
  method: 'GET' | 'POST';
  status: number;
  /** `x-instance` of the backend that answered, or null for a gateway error or a network error. */
  instance: string | null;
  /** The backend saw `x-sticky-rerouted: 1`. */
  rerouted: boolean;
  /** A network error (reset, timeout) instead of an HTTP answer. */
  error?: string;
  /** GET answers of the legacy app: whether it knew the client's session. */
  loggedIn?: boolean;
}

export interface ClientRecord {
  id: number;
  /** When the client started (ms since the load started). */
  startedAt: number;
  answers: Answer[];
}

export interface LoadOptions {
  /** Pause between one answer and the next request of a client (load shaping), default 50 ms. */
  paceMs?: number;
  /** Every n-th request of a client is a POST (non-idempotent), 0 for none; default 0. */
  postEvery?: number;
  /** Per-request timeout, default 10 s. */
  timeoutMs?: number;
  /** Each client's first request logs in (POST /login?user=c<id>), so its GETs report whether it still is. */
  login?: boolean;
}

const RESPONSE_LIMIT = 64 * 1024;

export class Load {
  readonly clients: ClientRecord[] = [];
  readonly startedAt = Date.now();
  private stopped = false;
  private readonly leaving = new Set<ClientRecord>();
  private readonly loops: Promise<void>[] = [];
  private readonly agents: http.Agent[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly options: LoadOptions = {},
  ) {}

  /** ms since the load started. */
  now(): number {
    return Date.now() - this.startedAt;
  }

  /** Starts `count` more clients; answers their records. */
  spawn(count: number): ClientRecord[] {
    const added: ClientRecord[] = [];
    for (let i = 0; i < count; i++) {
      const record: ClientRecord = { id: this.clients.length, startedAt: this.now(), answers: [] };
      this.clients.push(record);
      added.push(record);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      this.agents.push(agent);
      this.loops.push(this.run(record, agent));
    }
    return added;
  }

  /** These clients stop after their request in flight (users who closed the tab); the others go on. */
  leave(records: readonly ClientRecord[]): void {
    for (const record of records) this.leaving.add(record);
  }

  /** Stops every client after its request in flight and closes their connections. */
  async stop(): Promise<ClientRecord[]> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const agent of this.agents) agent.destroy();
    return this.clients;
  }

  private async run(record: ClientRecord, agent: http.Agent): Promise<void> {
    const jar = new CookieJar();
    const pace = this.options.paceMs ?? 50;
    const postEvery = this.options.postEvery ?? 0;
    const going = () => !this.stopped && !this.leaving.has(record);
    for (let n = 1; going(); n++) {
      const login = n === 1 && this.options.login === true;
      const method = login || (postEvery > 0 && n % postEvery === 0) ? 'POST' : 'GET';
      const path = login ? `/login?user=c${record.id}` : method === 'POST' ? '/cart' : '/';
      record.answers.push(await this.request(agent, jar, method, path));
      if (going() && pace > 0) await new Promise((resolve) => setTimeout(resolve, pace));
    }
  }

  private request(agent: http.Agent, jar: CookieJar, method: 'GET' | 'POST', path: string): Promise<Answer> {
    const sentAt = this.now();
    const body = method === 'POST' ? '{"item":42}' : undefined;
    return new Promise((resolve) => {
      const finish = (answer: Omit<Answer, 'sentAt' | 'doneAt' | 'method'>) =>
        resolve({ sentAt, doneAt: this.now(), method, ...answer });
      const headers: http.OutgoingHttpHeaders = {};
      const cookie = jar.header();
      if (cookie !== undefined) headers.cookie = cookie;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = http.request(new URL(path, this.baseUrl), { method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= RESPONSE_LIMIT) chunks.push(chunk);
        });
        res.on('error', (error) =>
          finish({ status: 0, instance: null, rerouted: false, error: error.message }),
        );
        res.on('end', () => {
          jar.absorb(res.headers['set-cookie'] ?? []);
          const instance = res.headers['x-instance'];
          let rerouted = false;
          let loggedIn: boolean | undefined;
          if (method === 'GET' && res.statusCode === 200) {
            try {
              const seen = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                headers?: Record<string, string>;
                loggedIn?: boolean;
              };
              rerouted = seen.headers?.['x-sticky-rerouted'] === '1';
              loggedIn = seen.loggedIn;
            } catch {
              // Not the legacy app's JSON: counted by its status.
            }
          }
          finish({
            status: res.statusCode ?? 0,
            instance: typeof instance === 'string' ? instance : null,
            rerouted,
            ...(loggedIn === undefined ? {} : { loggedIn }),
          });
        });
      });
      req.setTimeout(this.options.timeoutMs ?? 10_000, () => req.destroy(new Error('client timeout')));
      req.on('error', (error) =>
        finish({ status: 0, instance: null, rerouted: false, error: (error as Error).message }),
      );
      req.end(body);
    });
  }
}

/** The backends a client was served by, in order, without repeats: ['a'] stayed, ['a', 'c'] moved once. */
export function homes(record: ClientRecord): string[] {
  const out: string[] = [];
  for (const answer of record.answers)
    if (answer.instance !== null && answer.instance !== out.at(-1)) out.push(answer.instance);
  return out;
}

/** Answers that are not a backend's 2xx: gateway errors, network errors. */
export function failures(records: readonly ClientRecord[], method?: 'GET' | 'POST'): Answer[] {
  return records.flatMap((r) =>
    r.answers.filter(
      (a) => (method === undefined || a.method === method) && (a.status < 200 || a.status > 299),
    ),
  );
}

/** The p-th percentile (0..100) of the answers' latencies, in ms. */
export function latencyPercentile(records: readonly ClientRecord[], p: number): number {
  const latencies = records.flatMap((r) => r.answers.map((a) => a.doneAt - a.sentAt)).sort((x, y) => x - y);
  if (latencies.length === 0) return 0;
  return latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
}

export function requestCount(records: readonly ClientRecord[]): number {
  return records.reduce((sum, r) => sum + r.answers.length, 0);
}
