// The smallest Fastify gateway with sticky sessions, terminating HTTPS: clients speak TLS to the gateway,
// the gateway speaks plain HTTP to the backends (adding X-Forwarded-Proto: https). The balancer cookie gets
// `Secure` because the request arrived over HTTPS (`cookie.secure: 'auto'`). The certificate is
// self-signed and made at start: the browser warns once; use your own with TLS_KEY / TLS_CERT files.
//
//   cd examples/fastify && npx -y pnpm@10 start          then open https://localhost:8443
//   BACKENDS=http://10.0.0.1:8080,http://10.0.0.2:8080 TLS_KEY=key.pem TLS_CERT=cert.pem node gateway.js

const { readFileSync } = require('node:fs');
const Fastify = require('fastify');
const selfsigned = require('selfsigned');
const { sticky } = require('@stickyroute/fastify');
const { listenLegacyApp } = require('../demo/app');

async function certificate() {
  if (process.env.TLS_KEY && process.env.TLS_CERT)
    return { key: readFileSync(process.env.TLS_KEY), cert: readFileSync(process.env.TLS_CERT) };
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

async function main() {
  // Without BACKENDS, two instances of the demo's in-memory-session app stand in for yours.
  const backends = process.env.BACKENDS
    ? process.env.BACKENDS.split(',')
    : await Promise.all([1, 2].map(async (instance) => (await listenLegacyApp({ instance })).url));

  const app = Fastify({ https: await certificate() });
  await app.register(sticky, {
    backends,
    stickiness: { type: 'lb-cookie', duration: '15m' },
    secret: process.env.STICKY_SECRET,
  });

  const port = Number(process.env.PORT ?? 8443);
  await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`fastify gateway on https://localhost:${port} (self-signed) → ${backends.join(', ')}`);
}

main();
