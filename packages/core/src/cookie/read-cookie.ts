// Reads one cookie's value from a request's Cookie header without parsing the rest of it:
// on the request path we need one value, and a header may hold hundreds of cookies.

/** The first value of cookie `name` in a Cookie header, or undefined. Never throws. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join('; ');
  let from = 0;
  while (from < text.length) {
    const at = text.indexOf(name, from);
    if (at === -1) return undefined;
    const eq = at + name.length;
    // A match must start a pair (start of header or after ';' and spaces) and be followed by '='.
    let before = at - 1;
    while (before >= 0 && (text.charCodeAt(before) === 32 || text.charCodeAt(before) === 9)) before--;
    if ((before === -1 || text.charCodeAt(before) === 59) && text.charCodeAt(eq) === 61) {
      const end = text.indexOf(';', eq + 1);
      let value = text.slice(eq + 1, end === -1 ? text.length : end).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34)
        value = value.slice(1, -1);
      return value;
    }
    from = at + 1;
  }
  return undefined;
}
