// Reads a Set-Cookie `Expires` value the way a browser does: RFC 6265bis §5.1.1's cookie-date algorithm
// (tokens split at its delimiters; the first time, day, month and year found win), with Chromium's stricter
// token rules, because a date the browser reads differently gives the balancer cookie another lifetime than
// the app cookie's. Never `Date.parse`, which reads dates no browser accepts and misreads some it does.
//
// Chromium (checked against Debian's chromium 156):
// - a time is exactly `h:m:s` with 1–2 digits each (`10:11:12:13` and `10:11:123` are no time);
// - a numeric token counts only when it is all digits: 1–2 digits are the day (the first such), then up to
//   5 digits the year (`1st` and `2027a` are skipped);
// - years 70–99 are 19xx, 0–69 are 20xx; a date before 1601 is the earliest date there is (so the cookie is
//   expired: deleted), not a failure;
// - hour ≤ 23, minute ≤ 59, second ≤ 59, and the day must exist in its month (31 Feb fails).

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** RFC 6265 delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E. */
function isDelimiter(code: number): boolean {
  return (
    code === 0x09 ||
    (code >= 0x20 && code <= 0x2f) ||
    (code >= 0x3b && code <= 0x40) ||
    (code >= 0x5b && code <= 0x60) ||
    (code >= 0x7b && code <= 0x7e)
  );
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function allDigits(token: string): boolean {
  for (let i = 0; i < token.length; i++) if (!isDigit(token.charCodeAt(i))) return false;
  return token.length > 0;
}

/**
 * The time (epoch ms) an `Expires` value names, `-Infinity` for a date before 1601 (expired), or null when a
 * browser cannot read it (the attribute is then ignored: a session cookie, unless Max-Age says otherwise).
 */
export function parseCookieDate(text: string): number | null {
  let day = -1;
  let month = -1;
  let year = -1;
  let hour = -1;
  let minute = -1;
  let second = -1;
  let at = 0;
  while (at < text.length) {
    while (at < text.length && isDelimiter(text.charCodeAt(at))) at++;
    const start = at;
    while (at < text.length && !isDelimiter(text.charCodeAt(at))) at++;
    if (at === start) break;
    const token = text.slice(start, at);
    if (!isDigit(token.charCodeAt(0))) {
      if (month === -1) {
        const name = token.slice(0, 3).toLowerCase();
        const index = name.length === 3 ? MONTHS.indexOf(name) : -1;
        if (index !== -1) month = index;
      }
    } else if (token.includes(':')) {
      if (hour === -1) {
        const parts = token.split(':');
        if (parts.length === 3 && parts.every((p) => p.length <= 2 && allDigits(p))) {
          hour = Number(parts[0]);
          minute = Number(parts[1]);
          second = Number(parts[2]);
        }
      }
    } else if (allDigits(token)) {
      if (day === -1 && token.length <= 2) day = Number(token);
      else if (year === -1 && token.length <= 5) year = Number(token);
    }
  }
  if (day === -1 || month === -1 || year === -1 || hour === -1) return null;
  if (year >= 70 && year <= 99) year += 1900;
  else if (year <= 69) year += 2000;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  if (year < 1601) return Number.NEGATIVE_INFINITY;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  // A day its month does not have (31 Feb) rolls over into the next month: no such date.
  if (date.getUTCDate() !== day) return null;
  return date.getTime();
}
