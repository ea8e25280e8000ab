// The smallest Express gateway with sticky sessions: every request goes to one of the backends, and a
// client stays on the one it first reached through a signed load-balancer cookie (lb-cookie, 15 minutes
// idle, sliding), as AWS ALB's AWSALB cookie does.
//
//   cd examples/express && npx -y pnpm@10 start          then open http://localhost:8080
//   BACKENDS=http://10.0.0.1:8080,http://10.0.0.2:8080 PORT=80 STICKY_SECRET=… node gateway.js

const express = require('express');
const { sticky } = require('@stickyroute/express');
const { listenLegacyApp } = require('../demo/app');

async function main() {
  // Without BACKENDS, two instances of the demo's in-memory-session app stand in for yours.
  const backends = process.env.BACKENDS
    ? process.env.BACKENDS.split(',')
    : await Promise.all([1, 2].map(async (instance) => (await listenLegacyApp({ instance })).url));

  const app = express();
  app.use(
    sticky({
      backends,
      stickiness: { type: 'lb-cookie', duration: '15m' },
      secret: process.env.STICKY_SECRET, // shared by every gateway instance; without it, a random one
    }),
  );

  const port = Number(process.env.PORT ?? 8080);
  app.listen(port, () => console.log(`express gateway on http://localhost:${port} → ${backends.join(', ')}`));
}

main();
