/** The role and ownership rules, without HTTP (src/platform/access.ts). */
import { describe, expect, it } from 'vitest';
import { APP_ITSELF, canSee, roleAllows, type Caller } from '../../src/platform/access.js';

const ME = '11111111-1111-4111-8111-111111111111';
const TEAM = '22222222-2222-4222-8222-222222222222';
const OTHER = '33333333-3333-4333-8333-333333333333';
const caller = (roles: Caller['roles'], groups: string[] = []): Caller => ({ objectId: ME, groups, roles });

describe('access rules', () => {
  it.each([
    ['Platforms.Admin', ['read', 'create', 'operate']],
    ['Platforms.Operator', ['read', 'create', 'operate']],
    ['Platforms.Reader', ['read']],
  ] as const)('%s may %j', (role, actions) => {
    for (const action of ['read', 'create', 'operate'] as const)
      expect(roleAllows(caller([role]), action), action).toBe(
        (actions as readonly string[]).includes(action),
      );
  });

  it('a caller without a role of this API may do nothing', () => {
    for (const action of ['read', 'create', 'operate'] as const)
      expect(roleAllows(caller([]), action)).toBe(false);
  });

  it('owners see a platform by object id or group (any case); others do not; admins see all, ownerless ones too', () => {
    expect(canSee(caller(['Platforms.Reader']), [ME.toUpperCase()])).toBe(true);
    expect(canSee(caller(['Platforms.Reader'], [TEAM]), [OTHER, TEAM])).toBe(true);
    expect(canSee(caller(['Platforms.Operator']), [OTHER])).toBe(false);
    expect(canSee(caller(['Platforms.Operator']), undefined)).toBe(false);
    expect(canSee(caller(['Platforms.Admin']), undefined)).toBe(true);
    expect(canSee(APP_ITSELF, [OTHER])).toBe(true);
  });
});
