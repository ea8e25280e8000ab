// @stickyroute/redis: a StickyStore on Redis so several gateway instances agree on keyed and learned placements.

export { createRedisStore, RedisStore, type RedisStoreOptions, type RedisStoreStats } from './redis-store';
