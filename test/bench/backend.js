// A node:http backend for when nginx is not installed: `node backend.js PORT N` answers 200 "instance N"
// and sets an SID session cookie when the request has none, like conf/backend-nginx.conf. It costs about
// three times the CPU of the nginx backend per request, so ratios to "direct" read higher with it.

const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.argv[2] || 9101);
const body = Buffer.from(`instance ${process.argv[3] || '1'}\n`);
const hasSid = /(?:^|;\s*)SID=/;

http
  .createServer((req, res) => {
    const headers = { 'Content-Type': 'text/plain', 'Content-Length': body.length };
    const cookie = req.headers.cookie;
    if (!cookie || !hasSid.test(cookie))
      headers['Set-Cookie'] = `SID=${crypto.randomBytes(16).toString('hex')}; Max-Age=1200; Path=/; HttpOnly`;
    res.writeHead(200, headers);
    res.end(body);
  })
  .listen(port, '127.0.0.1');
