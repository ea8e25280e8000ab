// Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, so a proxy drops them in both directions.
// reply-from only drops `Connection` and the names it lists, and only on the request; undici refuses to
// send `keep-alive`, `upgrade` and `expect` at all (Node already answered `Expect: 100-continue` itself).

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
const REQUEST_ONLY = ['expect'];
/** Framing and routing headers a Connection header may not make us drop. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);

type Headers = Record<string, string | string[] | number | undefined>;

/** A copy of `headers` without hop-by-hop headers, including those the `Connection` header names. */
export function withoutHopByHop<T extends Headers>(headers: T, direction: 'request' | 'response'): T {
  const copy: Headers = { ...headers };
  const connection = copy.connection;
  const listed =
    typeof connection === 'string' ? connection.split(',').map((n) => n.trim().toLowerCase()) : [];
  for (const name of HOP_BY_HOP) delete copy[name];
  for (const name of listed) if (!PROTECTED.has(name)) delete copy[name];
  if (direction === 'request') for (const name of REQUEST_ONLY) delete copy[name];
  return copy as T;
}
