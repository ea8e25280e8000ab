// Reads one cookie's value from a request's Cookie header without parsing the rest of it:
// on the request path we need one value, and a header may hold hundreds of cookies.

/** The first value of cookie `name` in a Cookie header, or undefined. Never throws. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join('; ');
  const start = findCookie(text, name, 0);
  return start === -1 ? undefined : cookieValue(text, start, cookieEnd(text, start));
}

/**
 * Where the value of the first `name` cookie at or after `from` starts in a Cookie header's text, or -1.
 * A match must start a pair (the header's start, or after ';' and spaces) and be followed by '='.
 */
export function findCookie(text: string, name: string, from: number): number {
  while (from < text.length) {
    const at = text.indexOf(name, from);
    if (at === -1) return -1;
    const eq = at + name.length;
    let before = at - 1;
    while (before >= 0 && (text.charCodeAt(before) === 32 || text.charCodeAt(before) === 9)) before--;
    if ((before === -1 || text.charCodeAt(before) === 59) && text.charCodeAt(eq) === 61) return eq + 1;
    from = at + 1;
  }
  return -1;
}

/** Where the value starting at `start` ends (the next ';', or the end of the header). */
export function cookieEnd(text: string, start: number): number {
  const end = text.indexOf(';', start);
  return end === -1 ? text.length : end;
}

/** The value between `start` and `end`, trimmed, without surrounding double quotes. */
export function cookieValue(text: string, start: number, end: number): string {
  let value = text.slice(start, end).trim();
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34)
    value = value.slice(1, -1);
  return value;
}
