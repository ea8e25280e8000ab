// The `prefix` option of the Express, Koa and node adapters: proxy only a path and the paths under it
// (`/api` takes `/api` and `/api/…`, never `/apiary`).

import { StickyConfigError } from '../config/errors';

/** Validates `prefix` (a path starting with /, no query or spaces) and drops trailing slashes. */
export function normalizePrefix(prefix: unknown): string | undefined {
  if (prefix === undefined) return undefined;
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || /[?#\s]/.test(prefix))
    throw new StickyConfigError('prefix', `must be a path starting with / (got ${JSON.stringify(prefix)})`);
  return prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
}

/** The URL's path (a query ignored) is `prefix` or under it; always true without a prefix. */
export function isUnderPrefix(url: string, prefix: string | undefined): boolean {
  if (prefix === undefined || prefix === '/') return true;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path === prefix || path.startsWith(`${prefix}/`);
}
