// The Set-Cookie cases of the cookie tests of web-platform-tests, as data for cookie-mirror.test.ts.
//
// Source: https://github.com/web-platform-tests/wpt (each file read at the commit noted in SOURCES; the
// index this was taken from holds files at different commits).
// Licence: web-platform-tests is under the 3-Clause BSD License (LICENSE.md of the repository), copyright the
// web-platform-tests contributors. Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are met: (1) redistributions of
// source code must retain the above copyright notice, this list of conditions and the following
// disclaimer; (2) redistributions in binary form must reproduce the above copyright notice, this list of
// conditions and the following disclaimer in the documentation and/or other materials provided with the
// distribution; (3) neither the name of the copyright holder nor the names of its contributors may be used
// to endorse or promote products derived from this software without specific prior written permission.
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED
// WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A
// PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR
// ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED
// TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)
// HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
// NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
// POSSIBILITY OF SUCH DAMAGE.
//
// What was taken: for every case, the Set-Cookie lines one response carries (an array is several
// Set-Cookie headers, in order), the test's name, and the origin the response comes from. WPT's host names
// are those its domain tests name in their comments: {{host}} example.org, {{domains[www]}}
// home.example.org, {{domains[www1]}} sibling.example.org, {{domains[www2.www]}}
// subdomain.home.example.org, and {{hosts[alt][]}} example.com; {{ports[http][0]}} is the gateway's port.
// Where a test builds a line with a helper, the line is written out as the helper makes it (its TLD
// `.org`, its "bizarre" casing `eXaMpLe`, its changed TLD `orgzzz`, `cookieStringWithNameAndValueLengths`
// as `lengths`); the prefix tests' random value is `v`. cookies/prefix/__host.explicit-path.https.window.js
// sets its cookies through document.cookie (its comment says HTTP lacks a handler at that depth, not that the
// rule differs): its attribute strings are replayed here as Set-Cookie lines, over HTTPS, from a page at `/`.
// Expectations are not taken: the browser under test is the reference, and the test asks only whether the
// gateway's balancer cookie mirrors what it stored.

export const SOURCES = {
  'cookies/attributes/max-age.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/attributes/expires.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/attributes/invalid.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/attributes/resources/domain-child.sub.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/value/value.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/encoding/charset.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/size/name-and-value.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/size/attributes.www.sub.html': '23d0f251e9ee57117f1e99026042b522c8fd2cca',
  'cookies/rfc6265bis/prefix/__secure.http.non-secure.html': 'ef648517eb0efdcd2e59391f311a9b429884987f',
  'cookies/rfc6265bis/prefix/__host.http.non-secure.html': 'ef648517eb0efdcd2e59391f311a9b429884987f',
  'cookies/rfc6265bis/prefix/__secure.http.secure.html': 'ef648517eb0efdcd2e59391f311a9b429884987f',
  'cookies/prefix/__host.explicit-path.https.window.js': '7ba079d51b44cb2e64498ba89ba4c8e164215d48',
  'cookies/secure/create-cookie-http.html': 'd465af7c2f0d14c60169a3925f80fb16262f2b6d',
} as const;

export type SourceFile = keyof typeof SOURCES;

export interface WptCookieCase {
  source: SourceFile;
  name: string;
  /** The Set-Cookie lines of one response, in order. */
  lines: string[];
  /** The host the response comes from, and whether over HTTPS. */
  host: string;
  https: boolean;
}

const HOST = 'example.org';
const WWW = 'home.example.org';
const WWW1 = 'sibling.example.org';
const WWW2_WWW = 'subdomain.home.example.org';
const ALT = 'example.com';

/** `cookieStringWithNameAndValueLengths` of cookies/resources/cookie-test.js. */
function lengths(name: number, value: number): string {
  return `${'t'.repeat(name)}=${'1'.repeat(value)}`;
}

type Entry = [name: string, lines: string | string[]];

function from(source: SourceFile, host: string, https: boolean, entries: Entry[]): WptCookieCase[] {
  return entries.map(([name, lines]) => ({
    source,
    name,
    lines: Array.isArray(lines) ? lines : [lines],
    host,
    https,
  }));
}

/** Every case, for a gateway listening on `port`. */
export function wptCookieCases(port: number): WptCookieCase[] {
  const PATH = 'path=/cookies/attributes'; // domain-child.sub.html appends it to every line
  const withPath = (lines: string | string[]) =>
    (Array.isArray(lines) ? lines : [lines]).map((line) => `${line}; ${PATH}`);
  return [
    ...from('cookies/attributes/max-age.html', HOST, false, [
      ['Ignore max-age attribute with invalid non-zero-digit (containing a comma)', 'test=1; Max-Age=50,399'],
      ['Set cookie with age', 'test=2; max-age=10000'],
      ['Set no cookie with max-age=0', 'test=3; max-age=0'],
      ['Set no cookie with max-age=-1', 'test=4; max-age=-1'],
      ['Set no cookie with max-age=-20', 'test=5; max-age=-20'],
      ['Set multiple cookies with max-age attribute', ['testA=6; max-age=60', 'testB=6; max-age=60']],
      [
        'Expire later cookie with same name and max-age=0',
        ['testA=7; max-age=60', 'testB=7; max-age=60', 'testA=differentvalue; max-age=0'],
      ],
      [
        "Expire later cookie with same name and max-age=0, and don't set cookie with max-age=0",
        [
          'testA=8; max-age=60',
          'testB=8; max-age=60',
          'testA=differentvalue; max-age=0',
          'testC=8; max-age=0',
        ],
      ],
      [
        'Set mulitiple cookies with valid max-age values',
        ['test="9! = foo;bar";" parser; max-age=6', 'test9; max-age=2.63,'],
      ],
      ["Don't set multiple cookies with max-age=0", ['test=10; max-age=0', 'test10; max-age=0']],
    ]),
    ...from('cookies/attributes/expires.html', HOST, false, [
      ['Set cookie with expires value containing a comma', 'test=1; Expires=Fri, 01 Jan 2038 00:00:00 GMT'],
      [
        'Set cookie with expires value followed by comma',
        'test=2; Expires=Fri 01 Jan 2038 00:00:00 GMT, baz=qux',
      ],
      ['Set cookie with future expiration', 'test=3; Expires=Fri, 01 Jan 2038 00:00:00 GMT'],
      [
        'Set expired cookie along with valid cookie',
        [
          'test=expired; Expires=Fri, 07 Aug 2007 08:04:19 GMT',
          'test=4; Expires=Fri, 07 Aug 2027 08:04:19 GMT',
        ],
      ],
      ["Don't set cookie with expires set to the past", 'test=5; expires=Thu, 10 Apr 1980 16:33:12 GMT'],
    ]),
    ...from('cookies/attributes/invalid.html', HOST, false, [
      ['Set cookie with invalid attribute', 'test=1; lol; Path=/'],
      ['Set cookie ending with invalid attribute.', 'test=2; Path=/; lol'],
      ['Set cookie ending with quoted invalid attribute.', "test=3; Path=/; 'lol'"],
      ['Set cookie ending with double-quoted invalid attribute.', 'test=4; Path=/; "lol"'],
      ['Set cookie ending with invalid attribute equals.', 'test=5; Path=/; lol='],
      ['Set cookie with two invalid attributes (lol="aaa and bbb).', 'test=6; lol="aaa;bbb"; Path=/'],
      ['Set cookie ending with two invalid attributes (lol="aaa and bbb).', 'test=7; Path=/; lol="aaa;bbb"'],
      ['Set cookie for quoted Secure attribute', 'test=8; "Secure"'],
      ['Set cookie for Secure qux', 'test=9; Secure qux'],
      ['Ignore invalid attribute name with comma', 'test=10; b,az=qux'],
      ['Ignore invalid attribute value with comma', 'test=11; baz=q,ux'],
      [
        'Set cookie ignoring multiple invalid attributes, whitespace, and semicolons',
        '  test  = 12  ;foo;;;   bar',
      ],
      [
        "Set cookie with multiple '='s in its value, ignoring multiple invalid attributes, whitespace, and semicolons",
        '  test=== 13  ;foo;;;   bar',
      ],
      ['Set cookie with (invalid) version=1 attribute', 'test=14; version=1;'],
      ['Set cookie with (invalid) version=1000 attribute', 'test=15; version=1000;'],
      [
        'Set cookie ignoring anything after ; (which looks like an invalid attribute)',
        "test=16; customvalue='1000 or more';",
      ],
      [
        'Set cookie ignoring anything after ; (which looks like an invalid attribute, with no trailing semicolon)',
        "test=17; customvalue='1000 or more'",
      ],
      ['Ignore keys after semicolon', 'test=18; foo=bar, a=b'],
      ['Ignore attributes after semicolon', 'test=19;max-age=3600, c=d;path=/'],
      ['Ignore `Set-Cookie: =`', ['testA=20', '=', 'testb=20']],
      ['Ignore empty cookie string', ['test=21', '']],
      ['Ignore `Set-Cookie: =` with other `Set-Cookie` headers', ['test22', '=']],
      ['Ignore name- and value-less `Set-Cookie: ; bar`', ['testA23', '; testB23']],
      ['Ignore name- and value-less `Set-Cookie:    `', ['test24', '   ']],
      ['Ignore name- and value-less `Set-Cookie: \\t`', ['test25', '\t']],
      [
        "Ignore cookie with domain that won't domain match (along with other invalid noise)",
        'test=26; domain=.parser.test; ;; ;=; ,,, ===,abc,=; abracadabra! max-age=20;=;;',
      ],
    ]),
    ...from(
      'cookies/attributes/resources/domain-child.sub.html',
      WWW,
      false,
      (
        [
          ['Return cookie for a domain match', `test=1; domain=${WWW}`],
          [
            'No cookie returned for domain mismatch (subdomains differ post-redirect)',
            `test=2; domain=${WWW}`,
          ],
          ["Return cookie for a domain match with leading '.'", `test=3; domain=.${WWW}`],
          [
            'Return cookie for domain match (domain attribute is suffix of the host name and first level subdomain)',
            `test=4; domain=${WWW}`,
          ],
          [
            "Return cookie for domain match (domain attribute is suffix of the host name and first level subdomain, with leading '.')",
            `test=5; domain=.${WWW}`,
          ],
          [
            "No cookie returned for domain mismatch (subdomains differ, with leading '.')",
            `test=6; domain=.${WWW}`,
          ],
          [
            'No cookie returned for domain mismatch when cookie was created (which would match after the redirect, with one subdomain level)',
            `test=7; domain=${WWW1}`,
          ],
          [
            "Return cookie for domain match (domain attribute is suffix of the host name, with leading '.')",
            `test=8; domain=.${HOST}`,
          ],
          [
            'Return cookie for domain match (domain attribute is suffix of the host name)',
            `test=9; domain=${HOST}`,
          ],
          ["No cookie returned for domain attribute with double leading '.'", `test=10; domain=..${WWW}`],
          [
            'No cookie returned for domain attribute with subdomain followed by ..',
            `test=11; domain=www..${HOST}`,
          ],
          ["Return cookie for a domain match with leading whitespace and '.'", `test=12; domain=  .${WWW}`],
          [
            "No cookie returned for domain attribute with whitespace that surrounds a leading '.'",
            `test=13; domain=  .  ${WWW}`,
          ],
          ["No cookie returned for domain attribute with trailing '.'", `test=14; domain=${WWW}.`],
          ["No cookie returned for domain attribute with trailing '..'", `test=15; domain=${WWW}..`],
          [
            "No cookie returned for domain attribute with trailing whitespace and '.'",
            `test=16; domain=${WWW} .`,
          ],
          ['No cookie returned for domain attribute with TLD as value', 'test=17; domain=.org'],
          [
            "No cookie returned for domain attribute with TLD as value, with leading '.'",
            'test=18; domain=..org',
          ],
          [
            "No cookie returned for domain attribute with TLD as value, with leading and trailing '.'",
            'test=18b; domain=..org.',
          ],
          [
            "Return multiple cookies that match on domain (without and with leading '.')",
            [`testA=19; domain=${WWW}`, `testB=19; domain=.${WWW}`],
          ],
          [
            "Return multiple cookies that match on domain (with and without leading '.')",
            [`testB=20; domain=.${WWW}`, `testA=20; domain=${WWW}`],
          ],
          ['No cookie returned for domain attribute value between quotes', `test=21; domain="${WWW}"`],
          [
            "Return multiple cookies that match on subdomain and domain (without and with leading '.')",
            [`testA=22; domain=${WWW}`, `testB=22; domain=.${HOST}`],
          ],
          [
            "Return multiple cookies that match on domain and subdomain (with and without leading '.')",
            [`testB=23; domain=.${HOST}`, `testA=23; domain=${WWW}`],
          ],
          [
            'No cookie returned when domain attribute does not domain-match (and first does)',
            `test=24; domain=.${HOST}; domain=${WWW}`,
          ],
          [
            'Return cookie for domain attribute match (first does not, but second does)',
            `test=25; domain=${WWW}; domain=.${HOST}`,
          ],
          [
            'Return cookie for domain match (with bizarre capitalization for domain attribute value)',
            'test=26; domain=home.eXaMpLe.org',
          ],
          ['No cookie returned for domain attribute value with port', `test=27; domain="${WWW}:${port}"`],
          [
            'No cookie returned for domain mismatch when cookie was created (which would match after the redirect, with two subdomain levels)',
            `test=28; domain=${WWW2_WWW}`,
          ],
          ['No cookie returned for cookie set on different domain (with no domain attribute)', 'test=29'],
          ['Return cookie set with bare domain= attribute', 'test=30; domain='],
          ['Return cookie that domain-matches with bizarre-cased URL', `test=31; domain=${WWW}`],
          [
            'No cookie returned for domain attribute mismatch (first attribute matches, but second does not)',
            `test=32; domain=${WWW}; domain=home.example.orgzzz`,
          ],
          [
            "Return cookie for domain match (first attribute doesn't, but second does)",
            `test=33; domain=home.example.orgzzz; domain=${WWW}`,
          ],
          [
            "Return cookie for domain match (first attribute matches, second doesn't, third does)",
            `test=34; domain=${WWW}; domain=home.example.orgzzz; domain=${WWW}`,
          ],
          [
            "No cookie returned for domain attribute mismatch (first attribute doesn't, second does, third doesn't)",
            `test=35; domain=home.example.orgzzz; domain=${WWW}; domain=home.example.orgzzz`,
          ],
          [
            'Return cookie for domain match (with two identical domain attributes)',
            `test=36; domain=${WWW}; domain=${WWW}`,
          ],
          [
            'Return cookie for domain match (with first domain attribute a match for host name and second as suffix of host name)',
            `test=37; domain=${WWW}; domain=${HOST}`,
          ],
          [
            'Return cookie for domain match (with first domain attribute as suffix of host name and second a match for host name)',
            `test=38; domain=${HOST}; domain=${WWW}`,
          ],
          [
            'No cookie set on domain mismatch before a (domain matching) redirect',
            `test=39; domain=.${WWW1}`,
          ],
          [
            'No cookie set on domain mismatch before a (domain matching) redirect (for second level subdomain)',
            `test=40; domain=.${WWW2_WWW}`,
          ],
          [
            'Return cookie for domain match (with first domain attribute as suffix of host name and second a bare attribute)',
            `test=41; domain=${HOST}; domain=`,
          ],
          [
            'No cookie returned for domain mismatch (with domain mismatch as first domain attribute and second a bare attribute)',
            `test=42; domain=${WWW1}; domain=`,
          ],
          [
            'No cookie returned for domain mismatch (first attribute is a different subdomain and second is bare)',
            `test=43 domain=${WWW1}; domain=`,
          ],
          [
            "Cookies with same name, path, and domain (differing only in leading '.') overwrite each other ('.' second)",
            [`test=not44; domain=${WWW}`, `test=44; domain=.${WWW}`],
          ],
          [
            "Cookies with same name, path, and domain (differing only in leading '.') overwrite each other ('.' first)",
            [`test=not45; domain=.${WWW}`, `test=45; domain=${WWW}`],
          ],
        ] as Entry[]
      ).map(([name, lines]): Entry => [name, withPath(lines)]),
    ),
    ...from('cookies/value/value.html', HOST, false, [
      ['Set value containing a comma', 'test=1, baz=qux'],
      ['Set quoted value containing a comma', 'test="2, baz=qux"'],
      ['Ignore values after semicolon', 'test="3zz;pp" ; ;'],
      ['Ingore whitespace at the end of value', 'test="4zz ;'],
      ['Set value including quotes and whitespace up until semicolon', 'test="5zzz "   "ppp"  ;'],
      ['Set value with a single quote excluding whitespace', 'test=6A"B ;'],
      ['Set nameless cookie to its value', 'test7'],
      ['Set nameless cookie to its value with an escaped quote', '"test8"HHH"'],
      ['Set value with unbalanced leading quote', 'test="9'],
      ["Set nameless cookie followed by '=' to its value", '=test10'],
      ['Set cookie with large value ( = 4kb)', `test=11${'a'.repeat(4089)}`],
      ['Ignore cookie with large value ( > 4kb)', `test=12${'a'.repeat(4091)}`],
      ['Set cookie but ignore value after LF', 'test=13\nZYX'],
      ['Set cookie ignoring whitespace after value endquote', 'test="14 "   ;'],
      ['Ignore whitespace and ; after value', 'test=15    ;'],
      ['Ignore whitespace preceding value', 'test=  16'],
      ['Set cookie with quotes in value', 'test="17"'],
      ['Set cookie keeping whitespace inside quoted value', 'test="  18 "'],
      ['Set cookie value ignoring characters after semicolon', 'test="19;wow"'],
      ['Set cookie with another = inside quoted value', 'test="20=20"'],
      [
        'Set cookie ignoring whitespace surrounding value and characters after first semicolon',
        'test\t=\t21\t \t;\tttt',
      ],
      ['Set valueless cookie, given `Set-Cookie: test22=`', ['testA=22', 'test22=', 'testB=22']],
      ['URL-encoded cookie value is not decoded', 'test=%32%33'],
    ]),
    ...from('cookies/encoding/charset.html', HOST, false, [
      ['ASCII name and utf-8 value', 'test=1春节回家路·春运完全手册'],
      ['utf-8 name and ASCII value', 'тест=2'],
      ['ASCII name and quoted utf-8 value', 'test="3春节回家路·春运完全手册"'],
      ['utf-8 name and value', '春节回=4家路·春运完全手册'],
      ['quoted utf-8 name and value', '"春节回=5家路·春运完全手册"'],
      ['utf-8 name and value, with (invalid) utf-8 attribute', '春节回=6家路·春运; 完全手册'],
    ]),
    ...from('cookies/size/name-and-value.html', HOST, false, [
      ['Set max-size cookie with largest possible name and value (4096 bytes)', lengths(2048, 2048)],
      ['Ignore cookie with name larger than 4096 and 1 byte value', lengths(4097, 1)],
      ['Set max-size value-less cookie', lengths(4096, 0)],
      ['Ignore value-less cookie with name larger than 4096 bytes', lengths(4097, 0)],
      ['Set max-size cookie with largest possible value (4095 bytes)', lengths(1, 4095)],
      ['Ignore named cookie (with non-zero length) and value larger than 4095 bytes', lengths(1, 4096)],
      ['Ignore named cookie with length larger than 4095 bytes, and a non-zero value', lengths(4096, 1)],
      ['Set max-size name-less cookie', lengths(0, 4096)],
      ['Ignore name-less cookie with value larger than 4096 bytes', lengths(0, 4097)],
      [
        'Ignore name-less cookie (without leading =) with value larger than 4096 bytes',
        lengths(0, 4097).slice(1),
      ],
    ]),
    ...from('cookies/size/attributes.www.sub.html', WWW, false, [
      [
        'Too long path attribute (>1024 bytes) is ignored; previous valid path wins.',
        `test=1; path=/cookies/size; path=/cookies/siz${'e'.repeat(1024)}`,
      ],
      [
        'Too long path attribute (>1024 bytes) is ignored; next valid path wins.',
        `test=2; path=/cookies/siz${'e'.repeat(1024)}; path=/cookies/size`,
      ],
      [
        'Too long domain attribute (>1024 bytes) is ignored; previous valid domain wins.',
        `test=3; domain=${HOST}; domain=${'a'.repeat(1024)}.com`,
      ],
      [
        'Too long domain attribute (>1024 bytes) is ignored; next valid domain wins.',
        `test=4; domain=${'a'.repeat(1024)}.com; domain=${HOST}`,
      ],
    ]),
    ...prefixCases('cookies/rfc6265bis/prefix/__secure.http.non-secure.html', '__Secure-', HOST, false),
    ...prefixCases('cookies/rfc6265bis/prefix/__host.http.non-secure.html', '__Host-', HOST, false),
    ...from('cookies/rfc6265bis/prefix/__host.http.non-secure.html', HOST, false, [
      [
        "__Host: Non-secure origin: 'Secure; Path=/cookies/rfc6265bis/resources/list.py'",
        '__Host-prefixtestcookie=v;Secure; Path=/cookies/rfc6265bis/resources/list.py',
      ],
    ]),
    ...prefixCases('cookies/rfc6265bis/prefix/__secure.http.secure.html', '__Secure-', ALT, true),
    ...from('cookies/prefix/__host.explicit-path.https.window.js', HOST, true, [
      [
        'CONTROL "__Host-" with an explicit Path of "/" is set',
        '__Host-explicit-path-withpath=1; Secure; Path=/',
      ],
      [
        'CONTROL "__Host-" with a Path other than "/" is not set',
        '__Host-explicit-path-otherpath=1; Secure; Path=/cookies',
      ],
      ['"__Host-" without a Path attribute is not set', '__Host-explicit-path-nopath=1; Secure'],
      [
        '"__Host-" with an empty Path attribute is not set',
        '__Host-explicit-path-emptypath=1; Secure; Path=',
      ],
      [
        '"__Host-" with a valueless Path attribute is not set',
        '__Host-explicit-path-barepath=1; Secure; Path',
      ],
    ]),
    ...from('cookies/secure/create-cookie-http.html', HOST, false, [
      [
        'Secure cookies cannot be set by insecure origins',
        ['alone_secure=v; secure; path=/', 'alone_insecure=v; path=/'],
      ],
    ]),
  ];
}

/**
 * The rfc6265bis prefix tests: for each extra parameter, the prefixed cookie set through set.py without and
 * with Secure (`name=value;params`). The secure-origin file names its own origin's host in `domain=`.
 */
function prefixCases(source: SourceFile, prefix: string, host: string, https: boolean): WptCookieCase[] {
  const label = `${prefix === '__Host-' ? '__Host' : '__Secure'}: ${https ? 'secure' : 'Non-secure'} origin`;
  const entries: Entry[] = [];
  for (const extra of ['', `domain=${host}`, 'MaxAge=10', 'HttpOnly']) {
    const plain = `Path=/;${extra}`;
    const secure = https ? `Secure;Path=/;${extra}` : `Secure; Path=/;${extra}`;
    entries.push([`${label}: '${plain}'`, `${prefix}prefixtestcookie=v;${plain}`]);
    entries.push([`${label}: '${secure}'`, `${prefix}prefixtestcookie=v;${secure}`]);
  }
  return from(source, host, https, entries);
}
