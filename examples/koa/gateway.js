// The smallest Koa gateway with sticky sessions that follow the application's own session cookie:
// when a backend sets JSESSIONID, the gateway sets its balancer cookie with the same lifetime, and deletes
// it when the app deletes JSESSIONID (app-cookie, as AWS ALB's AWSALBAPP). Before login, nobody is stuck.
//
//   cd examples/koa && npx -y pnpm@10 start              then open http://localhost:8081
//   BACKENDS=http://10.0.0.1:8080,http://10.0.0.2:8080 PORT=80 STICKY_SECRET=… node gateway.js

const Koa = require('koa');
const { sticky } = require('@stickyroute/koa');
const { listenLegacyApp } = require('../demo/app');

async function main() {
  // Without BACKENDS, two instances of the demo's app stand in for a Java app that sets JSESSIONID.
  const backends = process.env.BACKENDS
    ? process.env.BACKENDS.split(',')
    : await Promise.all(
        [1, 2].map(
          async (instance) => (await listenLegacyApp({ instance, sessionCookie: 'JSESSIONID' })).url,
        ),
      );

  const app = new Koa();
  app.use(
    sticky({
      backends,
      stickiness: { type: 'app-cookie', appCookie: 'JSESSIONID' },
      secret: process.env.STICKY_SECRET,
    }),
  );

  const port = Number(process.env.PORT ?? 8081);
  app.listen(port, () => console.log(`koa gateway on http://localhost:${port} → ${backends.join(', ')}`));
}

main();
