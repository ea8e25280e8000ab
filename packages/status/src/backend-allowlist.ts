// Which backend URLs the status page may add. Adding a backend makes the gateway send clients' requests,
// cookies and all, to that address, and probe it; so a page that can be reached by a forged request must not
// be able to point the gateway at the cloud's metadata service (169.254.169.254 hands out credentials) or
// anything else link-local. The default refuses those and anything but http(s); an operator narrows it with a
// list of names and subnets, or decides with a function.

import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { StickyConfigError } from '@stickyroute/core';

/**
 * - undefined (the default): any http(s) URL except link-local addresses (169.254.0.0/16, fe80::/10), cloud
 *   metadata addresses and names (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal)
 *   and the unspecified addresses (0.0.0.0, ::); a host name is resolved and each of its addresses checked;
 * - `'any'`: every http(s) URL;
 * - a list: only hosts it names (`'app.internal'`, `'.svc.cluster.local'` for every name under it), or whose
 *   address lies in a subnet or equals an address it lists (`'10.0.0.0/8'`, `'fd00::/8'`, `'127.0.0.1'`);
 * - a function of the parsed URL: true to allow.
 */
export type AllowBackends = 'any' | readonly string[] | ((url: URL) => boolean | Promise<boolean>);

/** Resolves a host name to its addresses (dns.lookup, all of them); injectable so tests stay off the network. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export const resolveHost: ResolveHost = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/** Why a URL was refused: the status page answers 400 with this message. */
export class RefusedBackend extends Error {}

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

function defaultDenyList(): BlockList {
  const deny = new BlockList();
  deny.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, AWS/GCP/Azure/OpenStack metadata at .169.254
  deny.addSubnet('fe80::', 10, 'ipv6'); // link-local
  deny.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
  deny.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
  deny.addAddress('0.0.0.0', 'ipv4'); // "this host": reaches the gateway's own services on every interface
  deny.addAddress('::', 'ipv6');
  return deny;
}

/** The hostname of a URL without IPv6 brackets. */
function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** Compiles the operator's setting into a check that resolves when the URL may be added, or throws RefusedBackend. */
export function compileBackendCheck(
  allow: AllowBackends | undefined,
  resolve: ResolveHost = resolveHost,
): (url: string) => Promise<URL> {
  const parse = (input: string): URL => {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new RefusedBackend(`${JSON.stringify(input)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new RefusedBackend(`backends are http: or https: URLs (got ${url.protocol})`);
    return url;
  };
  const addressesOf = async (host: string): Promise<string[]> => {
    if (isIP(host) !== 0) return [host];
    try {
      const addresses = await resolve(host);
      if (addresses.length > 0) return addresses;
    } catch {
      // reported below, with the name
    }
    throw new RefusedBackend(`${host} does not resolve to an address`);
  };

  if (allow === 'any') return async (input) => parse(input);
  if (typeof allow === 'function')
    return async (input) => {
      const url = parse(input);
      if (!(await allow(url)))
        throw new RefusedBackend(`${url.host} is not an allowed backend (allowBackends)`);
      return url;
    };
  if (allow === undefined) {
    const deny = defaultDenyList();
    return async (input) => {
      const url = parse(input);
      const host = bareHost(url).toLowerCase();
      if (METADATA_NAMES.has(host.replace(/\.$/, '')))
        throw new RefusedBackend(`${host} is a cloud metadata service, never a backend`);
      for (const address of await addressesOf(host))
        if (deny.check(address, family(address)))
          throw new RefusedBackend(
            `${host}${address === host ? '' : ` (${address})`} is a link-local, metadata or unspecified address; allow it with allowBackends if you mean it`,
          );
      return url;
    };
  }
  if (!Array.isArray(allow) || !allow.every((entry) => typeof entry === 'string' && entry.trim() !== ''))
    throw new StickyConfigError(
      'allowBackends',
      `must be 'any', a list of host names and subnets, or a function (got ${JSON.stringify(allow)})`,
    );

  const names: string[] = [];
  const subnets = new BlockList();
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    const [address, bits] = entry.split('/');
    if (address !== undefined && isIP(address) !== 0) {
      const kind = family(address);
      if (bits === undefined) subnets.addAddress(address, kind);
      else {
        const prefix = Number(bits);
        if (!Number.isInteger(prefix) || prefix < 0 || prefix > (kind === 'ipv4' ? 32 : 128))
          throw new StickyConfigError('allowBackends', `holds ${JSON.stringify(raw)}, which is not a subnet`);
        subnets.addSubnet(address, prefix, kind);
      }
    } else names.push(entry.replace(/\.$/, ''));
  }
  const named = (host: string) =>
    names.some((name) => (name.startsWith('.') ? host.endsWith(name) : host === name));
  return async (input) => {
    const url = parse(input);
    const host = bareHost(url).toLowerCase().replace(/\.$/, '');
    if (named(host)) return url;
    // A name not listed is allowed only when every address it has lies in a listed subnet.
    const addresses = isIP(host) !== 0 ? [host] : await addressesOf(host).catch(() => []);
    if (addresses.length > 0 && addresses.every((address) => subnets.check(address, family(address))))
      return url;
    throw new RefusedBackend(`${url.host} is not among the allowed backends (allowBackends)`);
  };
}
