import { UpstreamDeadlines } from './upstream-deadlines';

describe('UpstreamDeadlines', () => {
  let now = 0;
  const clock = () => now;
  let expired: string[];
  let deadlines: UpstreamDeadlines<{ name: string }>;
  const item = (name: string) => ({ name });

  beforeEach(() => {
    now = 1_000;
    expired = [];
    deadlines = new UpstreamDeadlines<{ name: string }>(100, (i) => expired.push(i.name), clock);
  });
  afterEach(() => deadlines.close());

  test('an item not unwatched within the timeout expires once; one unwatched in time never does', () => {
    const slow = item('slow');
    const fast = item('fast');
    deadlines.watch(slow);
    deadlines.watch(fast);
    deadlines.tick(); // the period closes: both are due at 1,100
    now += 50;
    deadlines.unwatch(fast);
    deadlines.tick();
    expect(expired).toEqual([]);
    now += 50;
    deadlines.tick();
    deadlines.tick();
    expect(expired).toEqual(['slow']);
    expect(deadlines.size).toBe(0);
  });

  test('watching again (a retry) restarts the deadline from the period it is watched in', () => {
    const a = item('a');
    const b = item('b');
    deadlines.watch(a);
    deadlines.watch(b);
    deadlines.tick();
    now += 80;
    deadlines.watch(a);
    deadlines.tick(); // a is due at 1,180
    now += 30;
    deadlines.tick();
    expect(expired).toEqual(['b']);
    now += 60;
    deadlines.tick();
    expect(expired).toEqual(['b']);
    now += 10;
    deadlines.tick();
    expect(expired).toEqual(['b', 'a']);
  });

  test('a period holds only what is still watched when it closes; the count follows watch and unwatch', () => {
    const items = Array.from({ length: 100 }, (_, i) => item(`r${i}`));
    for (const i of items) deadlines.watch(i);
    for (const i of items.slice(1)) deadlines.unwatch(i);
    deadlines.unwatch(items[1]!); // twice is harmless
    expect(deadlines.size).toBe(1);
    deadlines.tick();
    now += 100;
    deadlines.tick();
    expect(expired).toEqual(['r0']);
    expect(deadlines.size).toBe(0);
  });

  test('with the real clock, a missed deadline fires within two periods of its timeout', async () => {
    const real = new UpstreamDeadlines<{ name: string }>(40, (i) => expired.push(i.name));
    const started = Date.now();
    real.watch(item('late'));
    while (expired.length === 0 && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 5));
    real.close();
    expect(expired).toEqual(['late']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });
});
