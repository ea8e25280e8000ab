// Redis as users run it, on loopback: a primary with a replica watched by three Sentinels (quorum 2), and a
// Redis Cluster of three primaries with a replica each (`redis-cli --cluster create`). Every process runs on a
// free port in its own temp dir with no persistence, and close() stops every one of them.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { waitFor } from '../support/wait-for';
import { findRedisServer, type RedisServer, startRedisSentinel, startRedisServer } from './redis-server';

export interface Address {
  host: string;
  port: number;
}

export interface SentinelSetup {
  readonly name: string;
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  readonly sentinels: readonly RedisServer[];
  /** Where clients find the Sentinels. */
  readonly sentinelAddresses: Address[];
  /** The port of the primary the Sentinels name now. */
  currentPrimaryPort(): Promise<number>;
  close(): Promise<void>;
}

/** A client that tolerates the topology changing under it (test-side reads only). */
function adminClient(address: Address): Redis {
  const client = new Redis({ ...address, lazyConnect: true, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return client;
}

/** Sentinel timings short enough for a test: the master is down after 1 s without an answer. */
const SENTINEL_TIMING = { quorum: 2, downAfterMs: 1_000, failoverTimeoutMs: 5_000 };

export async function startSentinelSetup(name = 'mymaster'): Promise<SentinelSetup> {
  const started: RedisServer[] = [];
  try {
    const primary = await startRedisServer();
    started.push(primary);
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
    started.push(replica);
    await waitFor(
      async () => (await info(replica.port, 'replication')).includes('master_link_status:up'),
      10_000,
      'the replica to sync with the primary',
    );
    const sentinels: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startRedisSentinel(primary, name, SENTINEL_TIMING);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Each Sentinel must know the replica (to promote it) and the two others (to reach the quorum).
    await waitFor(
      async () => {
        for (const sentinel of sentinels) {
          const client = adminClient({ host: '127.0.0.1', port: sentinel.port });
          try {
            await client.connect();
            const replicas = (await client.call('SENTINEL', 'REPLICAS', name)) as unknown[];
            const peers = (await client.call('SENTINEL', 'SENTINELS', name)) as unknown[];
            if (replicas.length !== 1 || peers.length !== 2) return false;
          } finally {
            client.disconnect();
          }
        }
        return true;
      },
      20_000,
      'the Sentinels to discover the replica and each other',
    );
    const sentinelAddresses = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    return {
      name,
      primary,
      replica,
      sentinels,
      sentinelAddresses,
      currentPrimaryPort: async () => {
        for (const address of sentinelAddresses) {
          const client = adminClient(address);
          try {
            await client.connect();
            const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[];
            return Number(reply[1]);
          } catch {
            // That Sentinel is not answering: ask the next one.
          } finally {
            client.disconnect();
          }
        }
        throw new Error('no Sentinel answered');
      },
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((s) => s.close()));
    throw error;
  }
}

export interface ClusterSetup {
  readonly nodes: readonly RedisServer[];
  /** Seed addresses for a Cluster client. */
  readonly seeds: Address[];
  /** The node that serves `key` now as primary. */
  primaryFor(key: string): Promise<RedisServer>;
  /** A Cluster client for the test's own reads. */
  admin(): Cluster;
  close(): Promise<void>;
}

/** Three primaries with a replica each; a node is declared failed after 1 s without an answer. */
export async function startCluster(): Promise<ClusterSetup> {
  const nodes: RedisServer[] = [];
  const admins: Cluster[] = [];
  try {
    for (let i = 0; i < 6; i++)
      nodes.push(
        await startRedisServer([
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
          // The nodes announce their loopback address, or CLUSTER SLOTS names them '' and clients cannot follow.
          ...['--cluster-announce-ip', '127.0.0.1', '--cluster-node-timeout', '1000'],
        ]),
      );
    await redisCli([
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      ...['--cluster-replicas', '1', '--cluster-yes'],
    ]);
    await waitFor(
      async () => {
        for (const node of nodes) {
          if (!(await clusterInfo(node.port)).includes('cluster_state:ok')) return false;
          const replication = await info(node.port, 'replication');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
            return false;
        }
        return true;
      },
      30_000,
      'the cluster to be ok with every replica in sync',
    );
    const seeds = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    return {
      nodes,
      seeds,
      primaryFor: async (key) => {
        for (const node of nodes) {
          const client = adminClient({ host: '127.0.0.1', port: node.port });
          try {
            await client.connect();
            const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
            const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
            const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
            const port = owner?.[2][1];
            const found = nodes.find((n) => n.port === port);
            if (found) return found;
          } catch {
            // A dead node: ask another.
          } finally {
            client.disconnect();
          }
        }
        throw new Error(`no node answered for ${key}`);
      },
      admin: () => {
        const client = new Cluster(seeds, { clusterRetryStrategy: () => 100 });
        client.on('error', () => undefined);
        admins.push(client);
        return client;
      },
      close: async () => {
        for (const client of admins) client.disconnect();
        await Promise.all(nodes.map((n) => n.close()));
      },
    };
  } catch (error) {
    await Promise.all(nodes.map((n) => n.close()));
    throw error;
  }
}

async function info(port: number, section: string): Promise<string> {
  const client = adminClient({ host: '127.0.0.1', port });
  try {
    await client.connect();
    return await client.info(section);
  } finally {
    client.disconnect();
  }
}

async function clusterInfo(port: number): Promise<string> {
  const client = adminClient({ host: '127.0.0.1', port });
  try {
    await client.connect();
    return String(await client.call('CLUSTER', 'INFO'));
  } finally {
    client.disconnect();
  }
}

/** redis-cli from the same installation as redis-server. */
function redisCli(args: string[]): Promise<string> {
  const beside = path.join(path.dirname(findRedisServer()), 'redis-cli');
  const binary = existsSync(beside) ? beside : 'redis-cli';
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}
