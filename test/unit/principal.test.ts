/**
 * Reading the caller from App Service Authentication's `x-ms-client-principal` header: trusted only when
 * the app's authentication is on, and no client-made header gives anything but "no caller" (never a
 * throw, which would become a 5xx).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCaller } from '../../src/http/principal.js';
import { encodePrincipal } from '../../sandbox/easy-auth.js';

const OID = '11111111-2222-4333-8444-555555555555';
const GROUP = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
const OID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const headers = (values: Record<string, string>) => ({
  get: (name: string) => values[name.toLowerCase()] ?? null,
});
const principal = (claims: { typ: string; val: string }[]) =>
  headers({ 'x-ms-client-principal': encodePrincipal(claims) });

describe('readCaller', () => {
  it("reads the object id, the groups and this API's roles from Entra's claims", () => {
    const reading = readCaller(
      principal([
        { typ: OID_CLAIM, val: OID },
        { typ: 'roles', val: 'Platforms.Operator' },
        { typ: 'roles', val: 'Something.Else' },
        { typ: 'groups', val: GROUP },
        { typ: 'name', val: 'Ada' },
      ]),
      true,
    );
    expect(reading).toEqual({
      ok: true,
      caller: { objectId: OID, groups: [GROUP.toLowerCase()], roles: ['Platforms.Operator'] },
    });
  });

  it('accepts the short `oid` claim, and a caller without roles (the service refuses it)', () => {
    expect(readCaller(principal([{ typ: 'oid', val: OID }]), true)).toEqual({
      ok: true,
      caller: { objectId: OID, groups: [], roles: [] },
    });
  });

  it('ignores the header, however well-formed, when App Service Authentication is off', () => {
    const forged = principal([
      { typ: OID_CLAIM, val: OID },
      { typ: 'roles', val: 'Platforms.Admin' },
    ]);
    expect(readCaller(forged, false).ok).toBe(false);
  });

  it.each([
    ['absent', headers({})],
    ['empty', headers({ 'x-ms-client-principal': '' })],
    ['not base64', headers({ 'x-ms-client-principal': 'not base64!' })],
    ['base64 of no JSON', headers({ 'x-ms-client-principal': Buffer.from('{claims:').toString('base64') })],
    ['JSON without claims', headers({ 'x-ms-client-principal': Buffer.from('[1]').toString('base64') })],
    ['claims without an object id', principal([{ typ: 'roles', val: 'Platforms.Admin' }])],
    ['an object id that is no GUID', principal([{ typ: 'oid', val: 'app' }])],
    ['too large', headers({ 'x-ms-client-principal': 'A'.repeat(40_000) })],
  ])('gives no caller for a header that is %s', (_, h) => {
    expect(readCaller(h, true).ok).toBe(false);
  });

  it('never throws on any header text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64')),
        ),
        (value) => {
          const reading = readCaller(headers({ 'x-ms-client-principal': value }), true);
          expect(typeof reading.ok).toBe('boolean');
        },
      ),
    );
  });
});
