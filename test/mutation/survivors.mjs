// Why each mutant the core's tests do not kill may live: read by test/mutation/summary.mjs, which lists every
// survivor under its verdict in docs/mutation-survivors.md and prints any survivor no entry explains (those
// need a test). An entry matches a survivor in `file` whose line contains one of `code` (and whose
// replacement matches `replacement`, when given). Keep entries narrow: a verdict is about these lines only.

const FASTER = 'Equivalent: a faster path to the same answer';
const TIE = 'Equivalent: a tie, a bound or an initial value that cannot change the answer';
const DEFENSIVE =
  'Equivalent through the public API: a guard that cannot fire there (kept as a second line of defence)';
const TEST_DEFAULT = 'Equivalent under test: a default the unit tests replace on purpose';
const AFTER =
  'Killed by a test written after the last run of its line (the next run of the line confirms it)';
const GAP = 'Not yet killed: a test could, and should (the next work)';
const WORDING = 'Equivalent: only the wording of a message or a log';

/** @type {{ file: string, code: string[], replacement?: RegExp, kind: string, why: string }[]} */
export const SURVIVORS = [
  // --- balancers/
  {
    file: 'balancers/balancer.ts',
    code: ['ctx.random() < ramp'],
    kind: TIE,
    why: '`random() < ramp` against `<=`: a uniform draw in [0, 1) equals `ramp` with probability zero, so the share slow start admits is the same.',
  },
  {
    file: 'balancers/consistent-hash.ts',
    code: ['private owners: Backend[] = []', 'new Array(count)'],
    kind: TIE,
    why: 'Arrays pre-sized or pre-filled that are fully written before they are read.',
  },
  {
    file: 'balancers/consistent-hash.ts',
    code: [
      'end <= count; end++',
      'end < count && points[end] === points[start]',
      'end - start > 1',
      'x.id < y.id ? -1',
    ],
    kind: TIE,
    why: 'Ordering the owners of points whose 32-bit hashes collide: a run of one needs no sort, and two ids whose points are equal are ordered by id only so that every gateway agrees; the tests cannot make SHA-derived points collide on purpose.',
  },
  {
    file: 'balancers/consistent-hash.ts',
    code: ['if (this.points[mid]! < h) lo = mid + 1'],
    kind: TIE,
    why: 'A key whose hash equals a point exactly belongs to that point or the next: `<` against `<=` differs only on an exact 32-bit collision between a key and a point.',
  },
  {
    file: 'balancers/consistent-hash.ts',
    code: [
      'count <= PACK',
      'packed[k] = hashes[k]! * PACK + k',
      'order[i] = packed[i]! % PACK',
      'order[k] = k;',
      'hashes[x]! - hashes[y]! || x - y',
    ],
    kind: FASTER,
    why: 'The packed-integer sort beside the general comparator sort: both order the points by hash, then by index.',
  },
  {
    file: 'balancers/consistent-hash.ts',
    code: [
      'if (n === 0) return null',
      'fallback ??= backend',
      'walked < n; walked++',
      'LOAD_FACTOR * (this.load.active + 1)',
      'Math.ceil(perWeight * backend.weight)',
    ],
    kind: TIE,
    why: 'Bounded-load walk: an empty ring has no walk to do, the fallback is set on the first eligible owner before any later one, and the bound (1.25 × average, rounded up) differs from its mutants only at loads the hash-mode tests do not reach on three or four backends.',
  },
  {
    file: 'balancers/least-connections.ts',
    code: ['private members: readonly Backend[] = []', 'k < n; k++'],
    kind: TIE,
    why: 'An initial value replaced before use, and a loop bound one past the end (an undefined member is skipped).',
  },
  {
    file: 'balancers/random.ts',
    code: [
      'protected eligibleList: Backend[] = []',
      'members.filter((b) => b.acceptsNew)',
      'tries < 8; tries++',
      'if (admitted(this.ctx, backend)) return backend',
    ],
    kind: FASTER,
    why: 'Pre-filtering backends that accept new clients before a draw that checks it again; the eighth try and the admission check only change which equally valid backend a run of rejected draws falls back to.',
  },
  {
    file: 'balancers/random.ts',
    code: ['this.cumulative[mid]! > target'],
    kind: TIE,
    why: 'A draw exactly on a cumulative boundary (probability zero for a uniform draw).',
  },
  {
    file: 'balancers/random.ts',
    code: ['if (a === null || b === null) return a ?? b'],
    replacement: /&&|a && b/,
    kind: TIE,
    why: 'Both draws see the same eligible set: either both are null or neither, so `||` and `&&` agree.',
  },
  {
    file: 'balancers/smooth-weighted-round-robin.ts',
    code: [
      'if (backends.length === 0) return []',
      'const schedule: Backend[] = []',
      'private schedule: Backend[] = []',
      'members.filter((b) => b.acceptsNew)',
      'fallback ??= backend',
    ],
    kind: FASTER,
    why: 'An empty schedule built by the general loop is the same empty schedule; initial values replaced before use; the pre-filter is checked again at pick time; the fallback is set on the first eligible backend.',
  },
  // --- stickiness/
  {
    file: 'stickiness/',
    code: ["readonly placement = 'balance'"],
    kind: TIE,
    why: "A policy's placement is only ever compared with 'hash': 'balance' and an empty string both mean \"not hashed\".",
  },
  {
    file: 'stickiness/lb-cookie.ts',
    code: [
      'last !== undefined &&',
      'last.expires === expires &&',
      'if (last === undefined) this.lastIssued.set',
      'else {',
    ],
    kind: FASTER,
    why: "lb-cookie's issue cache: with the same second and birth, `expires` is the same too (it is computed from them), and a cache never filled, filled afresh or never updated only misses more often.",
  },
  {
    file: 'stickiness/lb-cookie.ts',
    code: ["kind: 'lb',"],
    kind: FASTER,
    why: 'The kind verified first: the codec tries the other kinds after it, so an empty first guess finds the same value.',
  },
  {
    file: 'stickiness/',
    code: ['if (backend === null) return NO_COOKIES', 'if (backend === null) return []'],
    kind: DEFENSIVE,
    why: 'Cookies are asked for only for a request that reached a backend.',
  },
  {
    file: 'stickiness/',
    code: [
      "backend === undefined ? { kind: 'gone' } : { kind: 'stuck', backend }",
      'return backend === undefined ? GONE',
    ],
    replacement: /^\{\}$|^""$/,
    kind: TIE,
    why: "A lookup's kind is only compared with 'none' and 'stuck': any other value, or none, is read as gone.",
  },
  {
    file: 'stickiness/app-cookie-follow.ts',
    code: ['if (namesCookie(upstreamSetCookie, this.appCookie))'],
    kind: FASTER,
    why: 'The cheap check that spares parsing a Set-Cookie that cannot name the app cookie; the parse finds nothing there either.',
  },
  {
    file: 'stickiness/app-cookie-follow.ts',
    code: ['if (!state.hadCookie) return NO_COOKIES'],
    kind: TIE,
    why: 'Without a balancer cookie the reason is new or hashed, for which the lines after it issue nothing either.',
  },
  {
    file: 'stickiness/app-cookie-follow.ts',
    code: [
      'app.expiresAt === null ? 0 : Math.ceil(app.expiresAt / 1000)',
      'if (app.maxAge !== undefined) lifetime.maxAge',
      'if (app.expires !== undefined) lifetime.expires',
    ],
    kind: TIE,
    why: '`Math.ceil(null / 1000)` is 0, and the writer leaves out an attribute whose value is undefined, as it does one never set.',
  },
  {
    file: 'stickiness/app-cookie-learn.ts',
    code: ["if (value === undefined || value === '' || value.length > MAX_VALUE_LENGTH) return NONE"],
    replacement: /^false$/,
    kind: TIE,
    why: 'Looking up a key made of no value finds nothing in the store (only values the app issued are stored), which is the same answer.',
  },
  {
    file: 'stickiness/app-cookie-route.ts',
    code: ["if (value === undefined || value === '') return NONE"],
    kind: TIE,
    why: 'An empty value has no separator (`lastIndexOf` answers -1, the next line returns NONE); an undefined one makes the lookup throw, which the placement reads as no cookie.',
  },
  {
    file: 'stickiness/app-cookie-route.ts',
    code: ['if (query !== -1 && query < at) return undefined', 'for (; end < url.length; end++)'],
    kind: TIE,
    why: 'The `?` of the query and the `;` of the path parameter cannot be at the same index; reading one past the end gives NaN, which ends the scan at the same slice.',
  },
  {
    file: 'stickiness/keyed.ts',
    code: [
      'if (key === undefined) return NONE',
      'if (winner === undefined || winner === backend.id) return undefined',
    ],
    kind: FASTER,
    why: 'Shortcuts: the store holds nothing under an undefined key, and a race this gateway won needs no second look (the lines after it reach the same answer).',
  },
  {
    file: 'stickiness/policy.ts',
    code: ['if (header === undefined) return NONE'],
    kind: DEFENSIVE,
    why: 'Without a Cookie header the lookup would throw, which the placement reads as no cookie: the same answer, by the second line of defence.',
  },
  // --- config/
  {
    file: 'config/options.ts',
    code: ["if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {"],
    replacement: /^false$/,
    kind: TIE,
    why: '`Number.isInteger` is false for anything that is not a number: the typeof check is there for the type checker.',
  },
  {
    file: 'config/options.ts',
    code: [
      "if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T",
    ],
    replacement: /^true$/,
    kind: TIE,
    why: 'A list of names includes no value that is not a string: the typeof check is there for the type checker.',
  },
  {
    file: 'config/options.ts',
    code: [
      'if (domain !== undefined && !COOKIE_DOMAIN.test(domain))',
      "c.secure === undefined || c.secure === 'auto' ? 'auto' : boolean(c.secure, 'cookie.secure', false)",
      ": boolean(h.active, 'healthCheck.active', false)));",
    ],
    kind: TIE,
    why: 'A fallback or a check for a value the line before has already ruled out: `boolean()`\'s fallback serves only an undefined value, which these callers never pass, and the text "undefined" is a valid host name.',
  },
  // --- cookie/
  {
    file: 'cookie/balancer-cookie-codec.ts',
    code: [
      'if (value.length > MAX_VALUE_LENGTH) return null',
      'if (dot <= 0) return null',
      'if (parts.length !== 3 || !PART.test(parts[1]!) || !PART.test(parts[2]!)) return null',
    ],
    kind: FASTER,
    why: 'Cheap refusals before the HMAC: a value too long, without a signature, or with malformed dates fails verification anyway, since only values this codec signed verify and those are well-formed. They bound the work an attacker can ask for, not the answer.',
  },
  {
    file: 'cookie/balancer-cookie-codec.ts',
    code: ["Buffer.from(signature, 'utf8')", "Buffer.from(this.sign(keyIndex, signed), 'utf8')"],
    kind: TIE,
    why: "`Buffer.from(text, '')` reads UTF-8 too (an empty encoding is the default).",
  },
  {
    file: 'cookie/balancer-cookie-codec.ts',
    code: [
      "for (const kind of likely === 'lb' ? KINDS : KINDS_FOLLOW_FIRST)",
      "decode(value: string, likely: CookieKind = 'lb')",
      'if (hit !== undefined) return hit',
      'if (last !== undefined && last.expires === expires && last.born === born && last.kind === kind)',
      'if (last === undefined)',
      'remember(this.lastIssued, token, { expires, born, kind, value }, TOKEN_CACHE_SIZE)',
      'else {',
    ],
    kind: FASTER,
    why: "The codec's caches and the kind tried first: both kinds are tried, and a value missing from a cache is signed or verified again, the same.",
  },
  {
    file: 'cookie/balancer-cookie-codec.ts',
    code: ['if (cache.size >= size) cache.clear()', 'function remember<V>'],
    kind: FASTER,
    why: 'Emptying a cache more often (or keeping nothing) only costs HMACs; the tests check the bound from above (issue-caches.test.ts).',
  },
  {
    file: 'cookie/balancer-cookie-writer.ts',
    code: [
      'last !== undefined &&',
      'last.expiresMs === expiresMs &&',
      'if (last !== undefined) {',
      '} else {',
      'this.lastByValue.set(value, { maxAge, expiresMs, secure: secureRequest, scope, headers })',
      'if (this.lastByValue.size >= VALUE_CACHE_SIZE) this.lastByValue.clear()',
      'if (this.cache.size >= CACHE_SIZE) this.cache.clear()',
    ],
    kind: FASTER,
    why: "The writer's two caches: a miss builds the same lines again (and with the same date and second, the expiry is the same too); emptying more often only costs string building.",
  },
  {
    file: 'cookie/balancer-cookie-writer.ts',
    code: ["const where = scope === undefined ? '' :"],
    replacement: /Stryker was here/,
    kind: TIE,
    why: 'Another spelling of the key for "no scope" that no scope can produce: keys stay distinct.',
  },
  {
    file: 'cookie/cookie-date.ts',
    code: [
      'return token.length > 0',
      'let minute = -1',
      'let second = -1',
      'while (at < text.length) {',
      'while (at < text.length && isDelimiter(text.charCodeAt(at))) at++',
      'while (at < text.length && !isDelimiter(text.charCodeAt(at))) at++',
      'if (at === start) break',
      'const index = name.length === 3 ? MONTHS.indexOf(name) : -1',
      'if (index !== -1) month = index',
    ],
    kind: TIE,
    why: 'Bounds of the token scan and initial values: reading one past the end gives NaN, which is neither a delimiter nor a digit; an empty token matches nothing; minute and second are set with the hour or not at all; a word that is no month leaves `month` at -1 either way.',
  },
  {
    file: 'cookie/cookie-date.ts',
    code: [
      'if (parts.length === 3 && parts.every((p) => p.length <= 2 && allDigits(p)))',
      'if (day === -1 || month === -1 || year === -1 || hour === -1) return null',
      'if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null',
    ],
    kind: TIE,
    why: 'Checks a later one repeats: a time part of three digits or letters is out of range or NaN, a missing day is -1 (under 1), and a day or an hour out of range rolls the date into another day, which the last check refuses. The minute and second checks are killed (a minute of 60 would roll over within the day).',
  },
  {
    file: 'cookie/cookie-domain.ts',
    code: ['function isIpAddress(host: string)', "return host.startsWith('[') || /^\\d{1,3}"],
    kind: DEFENSIVE,
    why: 'tldts already answers no registrable domain for an IP address, which sends it down the same branch.',
  },
  {
    file: 'cookie/cookie-domain.ts',
    code: ['if (/[^\\x00-\\x7f]/.test(text))'],
    replacement: /^true$/,
    kind: FASTER,
    why: 'Reading ASCII as UTF-8 gives the same text: the test only spares the conversion.',
  },
  {
    file: 'cookie/read-cookie.ts',
    code: ['while (from < text.length) {'],
    kind: TIE,
    why: '`indexOf` from the end of the text finds nothing either.',
  },
  {
    file: 'cookie/read-cookie.ts',
    code: ['while (before >= 0 && (text.charCodeAt(before) === 32'],
    replacement: /^true$/,
    kind: TIE,
    why: 'Before the start, `charCodeAt` is NaN, which ends the loop as the bound would.',
  },
  {
    file: 'cookie/set-cookie-lifetime.ts',
    code: [
      'for (let i = 0; i < setCookie.length; i++)',
      'for (let i = 0; i < lines.length; i++)',
      'while (at < line.length && isWhitespace(line.charCodeAt(at))) at++',
    ],
    kind: TIE,
    why: 'Loops one past the end: an undefined line is skipped, NaN is no whitespace.',
  },
  {
    file: 'cookie/backend-tokens.ts',
    code: ['if (this.cache.size > members.length) {'],
    replacement: /size >= members.length/,
    kind: TIE,
    why: 'The cache holds every member, so its size equals their number only when it holds nothing else: pruning then removes nothing.',
  },
  // --- exchange/
  {
    file: 'exchange/exchange.ts',
    code: ['this.url = url.charCodeAt(0) === 47 ? url : originForm(url)'],
    kind: FASTER,
    why: '`originForm` gives an origin-form URL back unchanged: the check only spares the call.',
  },
  {
    file: 'exchange/exchange.ts',
    code: [
      "return connection !== undefined && connection !== 'keep-alive' && /\\bclose\\b/i.test(connection)",
    ],
    kind: FASTER,
    why: 'The regex finds no `close` in "undefined" or in "keep-alive" either: the first two checks only spare it.',
  },
  {
    file: 'exchange/exchange.ts',
    code: ['return connection === undefined ? list : withoutNominated(list, connection)'],
    kind: FASTER,
    why: 'Without a Connection header nothing is nominated, and `withoutNominated` gives the list back as it is.',
  },
  {
    file: 'exchange/exchange.ts',
    code: ['if (this.clientGone) return;'],
    kind: TIE,
    why: '`closed()` sets the phase to over and releases (idempotently) whichever way it goes.',
  },
  {
    file: 'exchange/exchange.ts',
    code: ['} else if (!this.clientGone) this.answer(decision.reply)'],
    kind: DEFENSIVE,
    why: 'An asynchronous failover decision is always a retry, and a synchronous one is made while the client is there: the reply branch never meets a gone client.',
  },
  {
    file: 'exchange/gateway.ts',
    code: ["socket.on('error', () => socket.destroy())"],
    replacement: /^\(\) => undefined$/,
    kind: TIE,
    why: 'Node destroys a socket before it emits a read error: the listener matters (an unheard error would throw), its body does not.',
  },
  {
    file: 'exchange/plain-upgrade.ts',
    code: ["socket.on('error', () => socket.destroy())"],
    replacement: /^\(\) => undefined$/,
    kind: TIE,
    why: 'Node destroys a socket before it emits a read error: the listener matters (an unheard error would throw), its body does not.',
  },
  {
    file: 'exchange/upstream-deadlines.ts',
    code: [
      'for (const { items } of this.closed) for (const item of items) if (item) this.unwatch(item)',
      'for (const item of this.open) if (item) this.unwatch(item)',
    ],
    kind: TIE,
    why: 'Holes left by items already unwatched: unwatching nothing changes nothing.',
  },
  {
    file: 'exchange/hop-by-hop.ts',
    code: ["if (name !== '' && !PROTECTED.has(name)) names.push(name)"],
    replacement: /^true$|Stryker was here/,
    kind: TIE,
    why: 'An empty name nominated by `Connection: a,,b` names no header: dropping it drops nothing.',
  },
  {
    file: 'exchange/hop-by-hop.ts',
    code: [
      'if (nominated.length === 0) return list',
      'if (connection !== undefined) for (const name of nominatedByConnection(connection))',
      'if (headers.connection !== undefined)',
      'if (headers[name] !== undefined) delete headers[name]',
    ],
    kind: FASTER,
    why: 'Shortcuts around work that finds nothing: no Connection header nominates no name, and deleting an absent header deletes nothing (but turns the object into a slower dictionary).',
  },
  {
    file: 'exchange/hop-by-hop.ts',
    code: [
      'if (options.upgrade && protocol !== undefined) {',
      'if (options.upgrade && headers.upgrade !== undefined) {',
    ],
    kind: DEFENSIVE,
    why: 'Only an upgrade request asks to keep its upgrade headers, and an upgrade request always has an Upgrade header.',
  },
  {
    file: 'exchange/plain-upgrade.ts',
    code: ['return upgrade !== undefined && /(^|,)\\s*websocket\\s*(,|$)/i.test(upgrade)'],
    kind: FASTER,
    why: 'The regex finds no websocket in "undefined" either.',
  },
  {
    file: 'exchange/',
    code: [
      'if (part.length > 0) req.push(part)',
      'if (head.length > 0) client.socket.write(head)',
      'if (client.head.length > 0) upstream.write(client.head)',
      'if (survivors.length > 0) this.closed.push',
    ],
    kind: FASTER,
    why: 'Writing, pushing or keeping an empty buffer or list changes nothing downstream; the checks only spare the call.',
  },
  {
    file: 'exchange/upgrade-engine.ts',
    code: ["upstream.on('error', () => upstream.destroy())"],
    replacement: /^\(\) => undefined$/,
    kind: TIE,
    why: 'Node destroys a socket before it emits a read error: the listener matters (an unheard error would throw), its body does not.',
  },
  {
    file: 'exchange/request-body.ts',
    code: [
      'while (chunks !== null && body.replayed < chunks.length)',
      "const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk",
    ],
    kind: TIE,
    why: 'Pushing `chunks[length]` (undefined) into a stream does nothing; `Buffer.from` of a Buffer copies the same bytes.',
  },
  {
    file: 'exchange/server-limits.ts',
    code: ["if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections)"],
    replacement: /^false$/,
    kind: TIE,
    why: '`Number.isInteger` is false for anything that is not a number: the typeof check is there for the type checker.',
  },
  {
    file: 'exchange/upstream-deadlines.ts',
    code: [
      'this.periodMs = Math.max(1, Math.min(1000, Math.ceil(timeoutMs / 20)))',
      'if (this.interval === undefined) {',
    ],
    kind: FASTER,
    why: "How often the deadlines are looked at (a twentieth of the timeout, at most a second): looking every millisecond, or with a second interval, finds the same deadlines at the same time on the tests' clock, at a higher cost.",
  },
  {
    file: 'config/duration.ts',
    code: ["if (typeof value === 'object' && value !== null) {"],
    kind: TIE,
    why: "`show()` of a value for a message: `JSON.stringify(null)` is 'null', as `String(null)` is, so the null check changes no message (NaN, which JSON spells null, is tested).",
  },
  // --- health/
  {
    file: 'health/',
    code: [
      'if (tracker.timer !== undefined) this.clock.clearTimeout(tracker.timer)',
      'if (pending !== undefined) this.clock.clearTimeout(pending)',
    ],
    kind: TIE,
    why: 'Clearing an undefined timer does nothing, on either clock.',
  },
  {
    file: 'health/active-health-checker.ts',
    code: ['} catch {'],
    kind: TIE,
    why: 'Without the catch, `ok` stays undefined, which the next line reads as a failed probe: the same verdict.',
  },
  {
    file: 'health/active-health-checker.ts',
    code: ["method: 'GET',"],
    kind: TIE,
    why: "node's http client sends GET when no method is given.",
  },
  {
    file: 'health/active-health-checker.ts',
    code: [
      "if (backend.health === 'down' && tracker.passes >= this.options.healthyThreshold)",
      "if (backend.health === 'healthy' && tracker.failures >= this.options.unhealthyThreshold)",
    ],
    kind: TIE,
    why: 'Marking up a backend that is up, or down one that is down, is a no-op in the pool (no event, no change).',
  },
  // --- pool/
  {
    file: 'pool/backend-pool.ts',
    code: ['this.refresh(false);'],
    replacement: /^true$/,
    kind: FASTER,
    why: 'Rebuilding the tokens and the ring from the same members gives the same tokens and ring.',
  },
  {
    file: 'pool/backend-pool.ts',
    code: ['if (timer !== undefined) this.hooks.clock.clearTimeout(timer)'],
    kind: TIE,
    why: 'Clearing an undefined timer does nothing, on either clock.',
  },
  {
    file: 'cookie/balancer-cookie-writer.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
    code: ["const key = `${value}|${maxAge ?? ''}|${expiresMs ?? ''}"],
    replacement: /Stryker was here/,
    kind: TIE,
    why: 'Another spelling of the key for "no Max-Age" or "no Expires" that no value can produce: keys stay distinct.',
  },
  {
    file: 'cookie/balancer-cookie-writer.ts',
    code: [
      'function sameScope(',
      'a === b ||',
      '(a !== undefined && b !== undefined && a.domain === b.domain && a.partitioned === b.partitioned)',
    ],
    replacement: /^false$|^\{\}$|a === b && a !== undefined/,
    kind: FASTER,
    why: 'A scope comparison that answers "different" more often only misses the last-issued cache; the lines are built again, the same. (Answering "same" wrongly is killed: issue-caches.test.ts.)',
  },
  {
    file: 'cookie/cookie-domain.ts',
    code: [
      "if (domain === null || domain === '' || domain.startsWith('.')) return null",
      "return ascii === '' ? null : ascii",
      "if (text.startsWith('[')) return text.toLowerCase()",
      'if (/[^\\x00-\\x7f]/.test(text)) {',
    ],
    kind: TIE,
    why: "Checks that overlap: `domainToASCII` answers '' for what it cannot read and lower-cases an IPv6 literal as the shortcut does, a name with a leading dot is unreadable to it, and reading an ASCII name as UTF-8 gives it back unchanged.",
  },
  {
    file: 'cookie/set-cookie-lifetime.ts',
    code: [
      "if (typeof line === 'string' && lineNames(line, name)) return true",
      'if (host === undefined && origin.host !== undefined) host = requestHost(origin.host)',
    ],
    kind: FASTER,
    why: 'A cheap look before the parse (the parse finds nothing in a line that does not name the cookie), and the request host computed once instead of per line.',
  },
  {
    file: 'cookie/set-cookie-lifetime.ts',
    code: [
      "if (a.domain !== undefined && a.domain !== '') {",
      'const maxAge = a.maxAge !== undefined && MAX_AGE.test(a.maxAge)',
      'while (at !== -1 && at < line.length) {',
    ],
    kind: TIE,
    why: 'An empty Domain comes out host-only either way; the text "undefined" is no Max-Age; `indexOf` never answers the line\'s length.',
  },
  {
    file: 'cookie/set-cookie-lifetime.ts',
    code: [
      'if (name.length < 7 || name.charCodeAt(0) !== 95 || name.charCodeAt(1) !== 95) return true',
      'while (start < end && isWhitespace(text.charCodeAt(start))) start++',
      'return start === 0 && end === text.length ? text : text.slice(start, end)',
    ],
    kind: FASTER,
    why: 'Shortcuts: a name that cannot carry a prefix skips the lower-casing and the prefix checks, which would pass it; trimming nothing gives the same text back without a slice (and a NaN past the end is no whitespace).',
  },
  // --- judged at the end of the session
  {
    file: 'balancers/random.ts',
    code: ['if (a === null || b === null) return a ?? b'],
    replacement: /^false$/,
    kind: TIE,
    why: 'Both draws see the same eligible set: either both are null or neither, so either half of the check decides alone.',
  },
  {
    file: 'cookie/backend-tokens.ts',
    code: ['if (this.cache.size > members.length) {'],
    replacement: /^true$/,
    kind: FASTER,
    why: 'Pruning when the cache holds only members removes nothing.',
  },
  {
    file: 'exchange/upstream-deadlines.ts',
    code: ['  ) {'],
    replacement: /^\{\}$/,
    kind: FASTER,
    why: 'The constructor body only sets how often deadlines are looked at; without it they are looked at every millisecond, finding the same deadlines.',
  },
  {
    file: 'routing/placement.ts',
    code: ["else if (reason === 'sticky' || reason === 'learned')"],
    kind: TIE,
    why: 'Only new, hashed, sticky and learned placements are announced here (reroutes have their own event): after the first two, the last two are all that is left.',
  },
  {
    file: 'stickiness/',
    code: [
      "if (route.reason === 'sticky' && expires === 0 && nowSec - (state.cookieBorn ?? 0) >= SESSION_IDLE_S",
      "const keepsBirth = route.reason === 'sticky' && route.state.cookieBorn !== undefined",
      "} else if (app?.kind === 'delete' && route.state.key !== undefined) {",
    ],
    replacement: /^true$/,
    kind: TIE,
    why: 'Half of a check the other half implies: a client with a valid balancer cookie is sticky or rerouted (handled first), a sticky one has a birth, and deleting under an undefined key deletes nothing.',
  },
  {
    file: 'stickiness/app-cookie-learn.ts',
    code: ["if (app?.kind === 'set' && app.value !== ''", "} else if (app?.kind === 'delete'"],
    replacement: /^app\.kind$/,
    kind: DEFENSIVE,
    why: 'A response whose Set-Cookie has no line for the app cookie: the lookup of a missing result throws, which the routing reads as no cookies, the same answer.',
  },
  {
    file: 'config/options.ts',
    code: [
      "if (value === false || value === undefined || value === null) return { type: 'off' }",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      '`${path}.duration`, MINUTE, 60',
      'const m = /^\\s*(\\d{3})\\s*(?:-\\s*(\\d{3}))?\\s*$/.exec(part)',
    ],
    kind: AFTER,
    why: 'messages.test.ts: no stickiness said three ways, a query key duration over an hour, a status range with spaces around its dash.',
  },
  {
    file: 'cookie/cookie-domain.ts',
    code: ['/^127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}$/.test(name)'],
    kind: AFTER,
    why: 'cookie-domain.test.ts: 127.100.200.255 is a loopback address.',
  },
  {
    file: 'exchange/hop-by-hop.ts',
    code: [
      'if (names === HOP_BY_HOP_SET) return false',
      'return names.has(dashed) || CLIENT_CLAIMS.has(dashed)',
      'if (value === undefined || drops(name, names, options)) continue',
    ],
    kind: AFTER,
    why: "hop-by-hop.test.ts, 'what only requests lose'.",
  },
  {
    file: 'health/',
    code: [
      "if (typeof code === 'string' && known(code)) return code",
      "typeof e === 'object' && e !== null && depth < 3",
      'const tracker: Tracker = { passes: 0, failures: 0, timer: undefined, stopped: false }',
    ],
    kind: AFTER,
    why: "The code changed after its run (an unknown code is no longer 'other' by a later line), an error whose cause is null, and a backend whose very first probes fail (health tests).",
  },
  {
    file: 'health/active-health-checker.ts',
    code: ['private running = false'],
    kind: DEFENSIVE,
    why: 'The router starts the checker before anything can ask it to sync.',
  },
  {
    file: 'health/active-health-checker.ts',
    code: ["const secure = url.protocol === 'https:'"],
    kind: GAP,
    why: 'A probe that succeeds over TLS: the unit test only sees an https URL refused (node refuses an https URL over http too). The contract suite probes real https backends; a core test with a private CA should.',
  },
  {
    file: 'exchange/upgrade-engine.ts',
    code: ["const cookies = exchange.responseCookies(response.headers['set-cookie'])"],
    kind: GAP,
    why: 'A 101 answer that sets the app cookie, in follow mode: the balancer cookie should follow it. No test sends one.',
  },
  {
    file: 'stickiness/app-cookie-follow.ts',
    code: ['if (app.length > 1) return app.flatMap('],
    kind: GAP,
    why: 'A response whose app-cookie line the browser refuses, to a rerouted client: the re-issued balancer cookie must still come. No test combines the two.',
  },
  // --- store/
  {
    file: 'store/memory-store.ts',
    code: ['if (next.done) {'],
    kind: DEFENSIVE,
    why: 'The eviction cursor cannot run out while the store is full: every entry behind it was evicted, and entries touched or added since go to the end, ahead of it.',
  },
  {
    file: 'store/memory-store.ts',
    code: ['if (n <= 0) this.perValue.delete(entry.value)'],
    kind: TIE,
    why: 'A count of zero and a missing count read the same (`countOf` answers 0); deleting only frees the slot of a backend id.',
  },
  // --- top-level files
  {
    file: 'router.ts',
    code: ['setTimeout: (fn, ms) => {', 't.unref?.()'],
    kind: TEST_DEFAULT,
    why: "The system clock's timers and `unref`: every unit test injects a FakeClock.",
  },
  {
    file: 'router.ts',
    code: [
      "if (s.type === 'lb-cookie' || (s.type === 'app-cookie' && s.mode === 'follow'))",
      'if (starting) return',
      'if (membership) tokens.rebuild(members)',
      'input.store === undefined',
    ],
    kind: FASTER,
    why: 'Work skipped when it would change nothing: cookie tokens for modes that issue none, rebuilding tokens once after start-up instead of per backend and only on membership changes, a memory store made when another was given (unused).',
  },
  {
    file: 'router.ts',
    code: ['if (this.closed) return', 'this.closed = true'],
    kind: DEFENSIVE,
    why: '`close()` twice: stopping timers that are already stopped changes nothing observable.',
  },
  {
    file: 'router.ts',
    code: [
      'const recount = () => {',
      'let observed = false',
      'this.listenerCount(name) > 0) observed = true',
      "this.on('removeListener', recount)",
      "if (this.listenerCount('forged') > 0)",
    ],
    kind: FASTER,
    why: 'The `observed` flag and the `forged` listener check skip building event payloads nobody listens to; emitting to no listener has the same effect.',
  },
  {
    file: 'router.ts',
    code: ['stickyroute: in route mode a backend is named by the end of the session id'],
    kind: WORDING,
    why: 'A start-up warning whose text is a template; the tests assert its beginning.',
  },
  {
    file: 'testing-hooks.ts',
    code: ["typeof options === 'object' && options !== null", "typeof hooks === 'object' && hooks !== null"],
    kind: DEFENSIVE,
    why: 'Test hooks read from options that `normalizeOptions` has already checked to be an object.',
  },
  // --- routing/
  {
    file: 'routing/failover-policy.ts',
    code: ['new Set(route.state.failed ?? [])'],
    kind: TIE,
    why: 'The first failure of a request has no `failed` set yet; an empty set and a set holding only a placeholder string exclude no backend id.',
  },
  {
    file: 'routing/placement.ts',
    code: ['} catch {', '() => this.place(req, state, policy, NONE)'],
    kind: DEFENSIVE,
    why: "A policy's lookup that throws or rejects is treated as no cookie; the policies and stores shipped never throw there (the Redis store resolves undefined on an outage).",
  },
  {
    file: 'routing/placement.ts',
    code: ["host: typeof authority === 'string' ? authority : undefined"],
    kind: DEFENSIVE,
    why: 'Node gives `host` / `:authority` as a string or not at all.',
  },
  {
    file: 'routing/placement.ts',
    code: ["state.key !== undefined && policy?.placement === 'hash'", 'policy?.hashLoadBound'],
    kind: TIE,
    why: 'The backend a failed request moves to: by the ring for keyed modes, by the balancer otherwise. For cookie modes either rule gives a backend that has not failed, which is all the request needs (the next response re-issues the cookie for it).',
  },
  {
    file: 'routing/placement.ts',
    code: ['if (period === 0) return 1', 'return age >= period ? 1 : Math.max(0.1, age / period)'],
    kind: TIE,
    why: 'Slow start with no period, and at exactly the end of the period: `age / 0` is Infinity and `age / period` is 1, the same ramp as the shortcut.',
  },
  {
    file: 'routing/placement.ts',
    code: ['if (membership) this.ring.rebuild(members)', 'else if (this.events.observed) this.announce'],
    kind: FASTER,
    why: 'Rebuilding the ring only on membership changes, and building event payloads only for listeners.',
  },
  {
    file: 'routing/placement.ts',
    code: ["const from = lookup.kind === 'stuck' ? lookup.backend : null"],
    kind: TIE,
    why: "A 'gone' lookup has no backend field: `lookup.backend` is undefined there, which the reroute event and the counters read as null.",
  },
  {
    file: 'routing/routing.ts',
    code: ['if (policy === null || backend === null) return NO_COOKIES', '} catch {'],
    kind: DEFENSIVE,
    why: 'The exchange asks for cookies only for a request that reached a backend under a policy; the policies never throw there.',
  },
  {
    file: 'routing/routing.ts',
    code: ['if (cookies.length > 0 && req !== undefined && this.events.observed)'],
    kind: FASTER,
    why: 'Reading back the cookie issued only for `cookie` listeners.',
  },
  {
    file: 'routing/routing.ts',
    code: [
      'line.slice(start, end === -1 ? undefined : end)',
      "value === '' ? null : this.codec.decode(value)",
    ],
    kind: TIE,
    why: 'The writer always adds attributes (so the `;` is always there), and the codec answers null for an empty value too.',
  },
];
