// The `prefix` option: validated at start-up (a StickyConfigError naming `prefix`), trailing slashes dropped,
// and a URL is under it only at a path-segment boundary, its query ignored.

import { StickyConfigError } from '../config/errors';
import { isUnderPrefix, normalizePrefix } from './mount-prefix';

describe('normalizePrefix', () => {
  it('keeps no prefix, a bare slash, and a path; drops trailing slashes', () => {
    expect(normalizePrefix(undefined)).toBeUndefined();
    expect(normalizePrefix('/')).toBe('/');
    expect(normalizePrefix('/api')).toBe('/api');
    expect(normalizePrefix('/api/')).toBe('/api');
    expect(normalizePrefix('/api/v1///')).toBe('/api/v1');
  });

  it.each([['api'], [''], [42], [null], ['/api?x=1'], ['/api#top'], ['/a pi'], ['/api\t']])(
    'refuses %j with a StickyConfigError naming prefix and the value',
    (bad) => {
      let thrown: unknown;
      try {
        normalizePrefix(bad);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(StickyConfigError);
      expect((thrown as Error).message).toContain('prefix');
      expect((thrown as Error).message).toContain('must be a path starting with /');
      expect((thrown as Error).message).toContain(JSON.stringify(bad));
    },
  );
});

describe('isUnderPrefix', () => {
  it('without a prefix, or with /, takes every URL', () => {
    expect(isUnderPrefix('/anything?q', undefined)).toBe(true);
    expect(isUnderPrefix('/anything', '/')).toBe(true);
  });

  it('takes the prefix itself and paths under it, never a longer name, and ignores the query', () => {
    expect(isUnderPrefix('/api', '/api')).toBe(true);
    expect(isUnderPrefix('/api/', '/api')).toBe(true);
    expect(isUnderPrefix('/api/users/7', '/api')).toBe(true);
    expect(isUnderPrefix('/api?next=/x', '/api')).toBe(true);
    expect(isUnderPrefix('/apiary', '/api')).toBe(false);
    expect(isUnderPrefix('/ap', '/api')).toBe(false);
    expect(isUnderPrefix('/other?/api/x', '/api')).toBe(false);
    expect(isUnderPrefix('/v2/api', '/api')).toBe(false);
  });
});
