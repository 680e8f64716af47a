import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derivePlatformNames } from '../../src/platform/naming.js';

// Azure's naming rules, restated here independently of src/platform/naming.ts.
const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
const DIGITS = '0123456789'.split('');

const RUNS = { numRuns: 500 };

/** `^[a-z][a-z0-9]{2,11}$`, composed from characters so every length and shape is reachable. */
const prefixArb = fc
  .tuple(
    fc.constantFrom(...LOWER),
    fc.array(fc.constantFrom(...LOWER, ...DIGITS), { minLength: 2, maxLength: 11 }),
  )
  .map(([first, rest]) => first + rest.join(''));
const subscriptionArb = fc.uuid();

const lengthIn = (value: string, min: number, max: number) => value.length >= min && value.length <= max;

const rules = {
  resourceGroup: (n: string) => lengthIn(n, 1, 90) && /^[A-Za-z0-9_\-.()]+$/.test(n) && !n.endsWith('.'),
  aksCluster: (n: string) => lengthIn(n, 1, 63) && /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$/.test(n),
  aksDnsPrefix: (n: string) => lengthIn(n, 1, 54) && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(n),
  nodePool: (n: string) => lengthIn(n, 1, 12) && /^[a-z][a-z0-9]*$/.test(n),
  postgresServer: (n: string) =>
    lengthIn(n, 3, 63) && /^[a-z0-9-]+$/.test(n) && !n.startsWith('-') && !n.endsWith('-'),
  storageAccount: (n: string) => lengthIn(n, 3, 24) && /^[a-z0-9]+$/.test(n),
  fileShare: (n: string) =>
    lengthIn(n, 3, 63) && /^[a-z0-9][a-z0-9-]*$/.test(n) && !n.includes('--') && !n.endsWith('-'),
  secret: (n: string) => lengthIn(n, 1, 127) && /^[A-Za-z0-9-]+$/.test(n),
};

const RESERVED_PG_LOGINS = [
  'azure_superuser',
  'azure_pg_admin',
  'admin',
  'administrator',
  'root',
  'guest',
  'public',
];

const secretNames = (sub: string, prefix: string) => Object.values(derivePlatformNames(sub, prefix).secrets);

describe('derivePlatformNames', () => {
  it('gives resource groups (platform and node) of 1–90 allowed characters, not ending with a dot', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const names = derivePlatformNames(sub, prefix);
        expect(rules.resourceGroup(names.resourceGroup), names.resourceGroup).toBe(true);
        expect(rules.resourceGroup(names.nodeResourceGroup), names.nodeResourceGroup).toBe(true);
        expect(names.nodeResourceGroup).not.toBe(names.resourceGroup);
      }),
      RUNS,
    );
  });

  it('gives an AKS cluster name of 1–63 alphanumerics, _ or -, starting and ending with an alphanumeric', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { aksCluster } = derivePlatformNames(sub, prefix);
        expect(rules.aksCluster(aksCluster), aksCluster).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives a DNS prefix of 1–54 alphanumerics or -, starting and ending with an alphanumeric', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { aksDnsPrefix } = derivePlatformNames(sub, prefix);
        expect(rules.aksDnsPrefix(aksDnsPrefix), aksDnsPrefix).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives node pool names of 1–12 lowercase alphanumerics starting with a letter', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { systemNodePool, gpuNodePool } = derivePlatformNames(sub, prefix);
        expect(rules.nodePool(systemNodePool), systemNodePool).toBe(true);
        expect(rules.nodePool(gpuNodePool), gpuNodePool).toBe(true);
        expect(systemNodePool).not.toBe(gpuNodePool);
      }),
      RUNS,
    );
  });

  it('gives a PostgreSQL server name of 3–63 lowercase letters, digits or -, not starting or ending with -', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { postgresServer } = derivePlatformNames(sub, prefix);
        expect(rules.postgresServer(postgresServer), postgresServer).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives a storage account name of 3–24 lowercase letters and digits', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { storageAccount } = derivePlatformNames(sub, prefix);
        expect(rules.storageAccount(storageAccount), storageAccount).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives file share names of 3–63 lowercase letters, digits or -, starting with a letter or digit, without -- or a trailing -', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { modelsFileShare, webuiFileShare } = derivePlatformNames(sub, prefix);
        expect(rules.fileShare(modelsFileShare), modelsFileShare).toBe(true);
        expect(rules.fileShare(webuiFileShare), webuiFileShare).toBe(true);
        expect(modelsFileShare).not.toBe(webuiFileShare);
      }),
      RUNS,
    );
  });

  it('gives every Key Vault secret a name of 1–127 alphanumerics or -', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        for (const name of secretNames(sub, prefix)) expect(rules.secret(name), name).toBe(true);
      }),
      RUNS,
    );
  });

  it('gives a PostgreSQL admin login that Azure does not reserve and that does not start with pg_', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const { postgresAdminLogin } = derivePlatformNames(sub, prefix);
        expect(postgresAdminLogin.length).toBeGreaterThan(0);
        expect(RESERVED_PG_LOGINS).not.toContain(postgresAdminLogin.toLowerCase());
        expect(postgresAdminLogin.toLowerCase().startsWith('pg_')).toBe(false);
      }),
      RUNS,
    );
  });

  it('is deterministic: the same subscription and prefix always give the same names', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        expect(derivePlatformNames(sub, prefix)).toStrictEqual(derivePlatformNames(sub, prefix));
      }),
      RUNS,
    );
  });

  it('never gives two prefixes in one subscription the same resource group, PostgreSQL server, storage account, DNS prefix or secret name', () => {
    fc.assert(
      fc.property(
        subscriptionArb,
        fc.uniqueArray(prefixArb, { minLength: 2, maxLength: 8 }),
        (sub, prefixes) => {
          const all = prefixes.map((prefix) => derivePlatformNames(sub, prefix));
          for (const key of [
            'resourceGroup',
            'nodeResourceGroup',
            'postgresServer',
            'storageAccount',
            'aksDnsPrefix',
          ] as const) {
            const values = all.map((names) => names[key]);
            expect(new Set(values).size, key).toBe(values.length);
          }
          const secrets = all.flatMap((names) => Object.values(names.secrets));
          expect(new Set(secrets).size).toBe(secrets.length);
        },
      ),
      RUNS,
    );
  });

  it('gives one prefix in two subscriptions different globally unique names (PostgreSQL server, storage account, DNS prefix)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(subscriptionArb, { minLength: 2, maxLength: 2 }),
        prefixArb,
        ([subA, subB], prefix) => {
          const a = derivePlatformNames(subA!, prefix);
          const b = derivePlatformNames(subB!, prefix);
          expect(a.postgresServer).not.toBe(b.postgresServer);
          expect(a.storageAccount).not.toBe(b.storageAccount);
          expect(a.aksDnsPrefix).not.toBe(b.aksDnsPrefix);
        },
      ),
      RUNS,
    );
  });

  it('gives one platform pairwise distinct secret names that all contain its prefix', () => {
    fc.assert(
      fc.property(subscriptionArb, prefixArb, (sub, prefix) => {
        const names = secretNames(sub, prefix);
        expect(names.length).toBeGreaterThan(0);
        expect(new Set(names).size).toBe(names.length);
        for (const name of names) expect(name).toContain(prefix);
      }),
      RUNS,
    );
  });

  describe('rejects invalid prefixes with a RangeError', () => {
    const rejects = (prefix: string) => {
      expect(() => derivePlatformNames('00000000-0000-0000-0000-000000000000', prefix)).toThrow(RangeError);
    };

    it('rejects prefixes containing an uppercase letter', () => {
      fc.assert(
        fc.property(prefixArb, fc.nat(), fc.constantFrom(...LOWER), (prefix, at, letter) => {
          const i = at % prefix.length;
          rejects(prefix.slice(0, i) + letter.toUpperCase() + prefix.slice(i + 1));
        }),
        RUNS,
      );
    });

    it('rejects prefixes starting with a digit', () => {
      fc.assert(
        fc.property(prefixArb, fc.constantFrom(...DIGITS), (prefix, digit) =>
          rejects(digit + prefix.slice(1)),
        ),
        RUNS,
      );
    });

    it('rejects prefixes shorter than 3 characters', () => {
      fc.assert(
        fc.property(prefixArb, fc.integer({ min: 0, max: 2 }), (prefix, length) =>
          rejects(prefix.slice(0, length)),
        ),
        RUNS,
      );
    });

    it('rejects prefixes longer than 12 characters', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...LOWER),
          fc.array(fc.constantFrom(...LOWER, ...DIGITS), { minLength: 12, maxLength: 40 }),
          (first, rest) => rejects(first + rest.join('')),
        ),
        RUNS,
      );
    });

    it('rejects prefixes containing a symbol', () => {
      fc.assert(
        fc.property(
          prefixArb,
          fc.nat(),
          fc.constantFrom('-', '_', '.', ' ', '/', '@', '$', '*', 'é', '\n', '\u0000'),
          (prefix, at, symbol) => {
            const i = at % (prefix.length + 1);
            rejects(prefix.slice(0, i) + symbol + prefix.slice(i));
          },
        ),
        RUNS,
      );
    });

    it('rejects the explicit edge cases', () => {
      for (const prefix of [
        '',
        'ab',
        'Team42',
        '4team',
        'team-42',
        'team_42',
        'abcdefghijklm',
        ' team42',
        'team42 ',
      ])
        rejects(prefix);
    });
  });
});
