// `source-ip`, `header` and `query` stickiness: a key taken from the request (client IP, a header such as
// x-api-key, a query parameter such as apikey) is placed by consistent hashing, and the placement is
// remembered in the store for `duration` (sliding), so adding a backend moves no active client.

import { createHash } from 'node:crypto';
import type { NormalizedStickiness } from '../config/options';
import type { Backend } from '../pool/backend';
import type { RouteRequest, RouteState } from '../types';
import { type Lookup, NO_COOKIES, NONE, type PolicyContext, type StickinessPolicy } from './policy';

type KeyedStickiness = Extract<NormalizedStickiness, { type: 'source-ip' | 'header' | 'query' }>;

const MAX_RAW_KEY = 256;

/** The request's stickiness key, or undefined when it has none (no header, no parameter). */
export function stickinessKey(req: RouteRequest, s: KeyedStickiness): string | undefined {
  let raw: string | undefined;
  if (s.type === 'source-ip') raw = req.ip;
  else if (s.type === 'header') {
    const v = req.headers[s.header];
    raw = Array.isArray(v) ? v[0] : v;
  } else {
    const q = req.url.indexOf('?');
    raw = q === -1 ? undefined : (new URLSearchParams(req.url.slice(q + 1)).get(s.param) ?? undefined);
  }
  if (raw === undefined || raw === '') return undefined;
  // Long keys (API tokens) are stored by digest so a hostile header cannot bloat the store.
  if (raw.length > MAX_RAW_KEY) raw = createHash('sha256').update(raw).digest('base64url');
  return `${s.type === 'source-ip' ? 'ip' : s.type === 'header' ? 'h' : 'q'}:${raw}`;
}

export class KeyedPolicy implements StickinessPolicy {
  readonly placement = 'hash';

  constructor(
    private readonly ctx: PolicyContext,
    private readonly stickiness: KeyedStickiness,
  ) {}

  async lookup(req: RouteRequest, state: RouteState): Promise<Lookup> {
    const key = stickinessKey(req, this.stickiness);
    if (key === undefined) return NONE;
    state.key = key;
    const id = await this.ctx.store.get(key, this.stickiness.durationMs);
    if (id === undefined) return NONE;
    const backend = this.ctx.backendById(id);
    return backend === undefined ? { kind: 'gone' } : { kind: 'stuck', backend };
  }

  async placed(state: RouteState, backend: Backend): Promise<Backend | undefined> {
    if (state.key === undefined) return undefined;
    // Two gateways racing for a new key agree on whichever placement reached the store first; a backend
    // that just failed this request (a retry) is not a winner: the client moves, as with a new cookie.
    const winner = await this.ctx.store.setIfAbsent(state.key, backend.id, this.stickiness.durationMs);
    if (winner === undefined || winner === backend.id) return undefined;
    const other = this.ctx.backendById(winner);
    if (other?.servesStuck && !state.failed?.has(winner)) return other;
    this.ctx.store.set(state.key, backend.id, this.stickiness.durationMs);
    return undefined;
  }

  responseCookies(): readonly string[] {
    return NO_COOKIES;
  }
}
