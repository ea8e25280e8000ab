// Type tests for the options: `tsc --noEmit` (pnpm typecheck) compiles this file, jest does not run it.
// Every `@ts-expect-error` line must fail to compile; if one ever compiles, tsc reports the directive as
// unused and the type check fails. Nothing here executes.

import type { Duration } from '../types';
import type { BackendInput, CookieOptions, StickinessOptions, StickyOptions } from './options';

export const durations: Duration[] = [90, 0.5, '90', '90s', '1.5h', '500ms', '15m', '1h', '1d'];

// @ts-expect-error a spelled-out unit is not a duration
export const spelledOut: Duration = '15 minutes';
// @ts-expect-error neither is a bare unit
export const bareUnit: Duration = 'm';
// @ts-expect-error nor a unit parseDuration does not know
export const weeks: Duration = '2w';
// @ts-expect-error nor two units
export const twoUnits: Duration = '1h30m';

export const lbCookie: StickinessOptions = { type: 'lb-cookie', duration: '15m', maxLifetime: '12h' };
// @ts-expect-error the typo every console makes
export const lbCookieTypo: StickinessOptions = { type: 'lb-cookie', duration: '15 min' };
export const sourceIp: StickinessOptions = { type: 'source-ip', duration: 300 };

export const options: StickyOptions = {
  backends: ['http://10.0.0.1:8080', { url: 'http://10.0.0.2:8080', weight: 2 }] satisfies BackendInput[],
  timeout: '30s',
  slowStart: '2m',
  healthCheck: { interval: '10s', timeout: '2s', cooldown: 10 },
};
export const badTimeout: StickyOptions = {
  backends: [],
  // @ts-expect-error a duration, not a sentence
  timeout: 'thirty seconds',
};

export const cookie: CookieOptions = { sameSite: 'None', secure: true };
// @ts-expect-error SameSite values are capitalized as the cookie attribute is
export const lowercaseSameSite: CookieOptions = { sameSite: 'none' };
