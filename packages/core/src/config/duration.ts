// The one duration parser: numbers are seconds; strings are '500ms', '90s', '15m', '1h', '1d' or a bare number.

import { StickyConfigError } from './errors';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i;

/** Parses a duration into milliseconds, or throws a StickyConfigError naming `path`. */
export function parseDuration(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  } else if (typeof value === 'string') {
    const m = DURATION.exec(value);
    if (m) return Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 's').toLowerCase()]!);
  }
  throw new StickyConfigError(
    path,
    `must be a number of seconds or a string such as '90s', '15m', '1h' (got ${show(value)})`,
  );
}

/** Parses a duration and checks it lies in [minMs, maxMs]. */
export function parseDurationInRange(value: unknown, path: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(value, path);
  if (ms < minMs || ms > maxMs) {
    throw new StickyConfigError(
      path,
      `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)} (got ${show(value)})`,
    );
  }
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}
