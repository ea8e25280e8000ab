// The shared test backend and client behave as the suites assume: sessions in memory, cookies set and
// deleted, a stop that refuses connections and a restart on the same port.

import { CookieJar, cookiesNamed, HttpClient, send } from './http-client';
import { APP_EXTRA_COOKIES, type LegacyApp, STREAM_BYTES, startLegacyApp, streamSha256 } from './legacy-app';
import { makeSelfSignedCert } from './self-signed-cert';
import { waitFor } from './wait-for';
import { openWebSocket } from './ws-client';

describe('legacy app', () => {
  let app: LegacyApp;
  beforeAll(async () => {
    app = await startLegacyApp({ instance: 'a' });
  });
  afterAll(() => app.close());

  test('keeps a session in memory: login, who-am-i, logout', async () => {
    const client = new HttpClient(app.url);
    const login = await client.post('/login?user=bob');
    const [session] = cookiesNamed(login, 'PHPSESSID');
    expect(session?.attributes['max-age']).toBe('600');
    expect(login.setCookies.slice(1)).toEqual(APP_EXTRA_COOKIES);
    const me = (await client.get('/')).json();
    expect(me).toMatchObject({ instance: 'a', loggedIn: true, user: 'bob' });
    const logout = await client.post('/logout');
    expect(cookiesNamed(logout, 'PHPSESSID')[0]?.attributes['max-age']).toBe('0');
    expect(client.jar.get('PHPSESSID')).toBeUndefined();
    expect((await client.get('/')).json()).toMatchObject({ loggedIn: false });
  });

  test('jvmRoute: Tomcat-like session ids <hex>.<instance>, read from the cookie or the ;jsessionid= path parameter', async () => {
    const tomcat = await startLegacyApp({ instance: 'node2', jvmRoute: true });
    try {
      const login = await send(`${tomcat.url}/login;jsessionid=ignored?user=tom`, { method: 'POST' });
      expect(login.json()).toMatchObject({ instance: 'node2', loggedIn: true, user: 'tom' });
      const [session] = cookiesNamed(login, 'JSESSIONID');
      expect(session?.value).toMatch(/^[0-9a-f]{24}\.node2$/);
      const byCookie = await send(`${tomcat.url}/`, { headers: { cookie: `JSESSIONID=${session!.value}` } });
      expect(byCookie.json()).toMatchObject({ loggedIn: true, user: 'tom' });
      const path = `/cart;jsessionid=${session!.value}?x=1`;
      const byPath = await send(`${tomcat.url}${path}`);
      expect(byPath.json()).toMatchObject({ loggedIn: true, user: 'tom', path });
      expect((await send(`${tomcat.url}/cart?jsessionid=${session!.value}`)).json()).toMatchObject({
        loggedIn: false,
      });
      // The cookie wins over the path, as in Tomcat.
      const both = await send(`${tomcat.url}${path}`, { headers: { cookie: 'JSESSIONID=unknown.node2' } });
      expect(both.json()).toMatchObject({ loggedIn: false });
      await send(`${tomcat.url}/logout;jsessionid=${session!.value}`, { method: 'POST' });
      expect((await send(`${tomcat.url}${path}`)).json()).toMatchObject({ loggedIn: false });
      // Without the option nothing changes: PHPSESSID, no route, the path parameter is not a session.
      const plain = await send(`${app.url}/login`, { method: 'POST' });
      expect(cookiesNamed(plain, 'PHPSESSID')[0]?.value).toMatch(/^[0-9a-f]{24}$/);
    } finally {
      await tomcat.close();
    }
  });

  test('session-only login and stream', async () => {
    const login = await send(`${app.url}/login?maxAge=session`, { method: 'POST' });
    expect(cookiesNamed(login, 'PHPSESSID')[0]?.attributes['max-age']).toBeUndefined();
    const stream = await send(`${app.url}/stream`);
    expect(stream.headers['transfer-encoding']).toBe('chunked');
    expect(stream.body.length).toBe(STREAM_BYTES);
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(stream.body).digest('hex')).toBe(streamSha256());
  });

  test('stop refuses connections; restart serves again on the same port', async () => {
    await app.stop();
    await expect(send(`${app.url}/health`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await app.restart();
    expect((await send(`${app.url}/health`)).status).toBe(200);
  });

  test('WebSocket echo names the instance', async () => {
    const ws = await openWebSocket(app.url.replace('http', 'ws'));
    expect(await ws.ask('hi')).toBe('a:hi');
    await ws.close();
  });

  test('serves HTTPS with a self-signed certificate', async () => {
    const pems = await makeSelfSignedCert();
    const secure = await startLegacyApp({ instance: 's', https: pems });
    try {
      expect((await send(`${secure.url}/health`, { ca: pems.cert })).status).toBe(200);
      await expect(send(`${secure.url}/health`)).rejects.toThrow();
    } finally {
      await secure.close();
    }
  });

  test('cookie jar honours expiry; waitFor is bounded', async () => {
    let now = 1_000_000;
    const jar = new CookieJar(() => now);
    jar.absorb(['A=1; Max-Age=10', 'B=2']);
    expect(jar.header()).toBe('A=1; B=2');
    now += 11_000;
    expect(jar.header()).toBe('B=2');
    await expect(waitFor(() => false, 50, 'never')).rejects.toThrow('never did not hold within 50 ms');
  });
});
