// @stickyroute/core/adapter: what an adapter is built on. A Gateway owns the router and runs each request
// (and WebSocket upgrade) as an Exchange; the adapter's engine sends, replies and aborts, and reports what
// it saw. The header rules every engine needs live here too, so no adapter writes its own.
// The protocol is described in packages/core/README.md, "For adapter authors".

export {
  announcesBody,
  appendCookies,
  type ClientHeaders,
  Exchange,
  type ExchangeEngine,
  type RequestFacts,
} from './exchange/exchange';
export { Gateway, type GatewaySetup } from './exchange/gateway';
export {
  copyDownstreamHeaders,
  copyUpstreamHeaders,
  type HopByHopOptions,
  isHopByHop,
  nominatedByConnection,
  prepareUpstreamHeaders,
  stripHopByHop,
} from './exchange/hop-by-hop';
export { isUnderPrefix, normalizePrefix } from './exchange/mount-prefix';
export { isWebSocketUpgrade, serveAsPlainRequest } from './exchange/plain-upgrade';
export { rawReply, writeReply } from './exchange/reply-writer';
export { DEFAULT_RETRY_BUFFER_BYTES } from './exchange/request-body';
export {
  applyServerLimits,
  type NormalizedServerLimits,
  normalizeServerLimits,
  type ServerLimits,
} from './exchange/server-limits';
export { closedAfterEarlierResponses } from './health/upstream-failure';
export type { Reply } from './types';
