// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// What breaks replay determinism in an orchestrator (Durable Functions code constraints):
// wall-clock time, randomness, real timers, environment reads, I/O, and SDK clients.
const nondeterministicImports = [
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'dns',
  'child_process',
  'crypto',
  'os',
  'timers',
  'timers/promises',
  'worker_threads',
].flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Only src/config.ts may read the environment: everything else receives the typed config.
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings through src/config.ts.' },
      ],
    },
  },
  {
    // The platform domain is pure and every layer imports it (orchestrators included): files are read at
    // the edge (src/manifest-files.ts) and passed in.
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['fs', 'fs/promises', 'path', 'url']
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({ name, message: 'src/platform does no I/O: take the content as a parameter.' })),
        },
      ],
    },
  },
  {
    files: ['src/orchestrators/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use context.df.createTimer (durable timer).' },
        { name: 'setInterval', message: 'Use context.df.createTimer (durable timer).' },
        { name: 'setImmediate', message: 'Orchestrators must not schedule real timers.' },
        { name: 'fetch', message: 'Orchestrators do no I/O: call an activity.' },
        { name: 'process', message: 'Orchestrators take everything from their input.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use context.df.currentUtcDateTime.' },
        {
          object: 'Math',
          property: 'random',
          message: 'Randomness breaks replay: generate it in an activity.',
        },
        { object: 'process', property: 'env', message: 'Orchestrators take everything from their input.' },
        { object: 'crypto', property: 'randomUUID', message: 'Use context.df.newGuid.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'new Date() reads the wall clock: use context.df.currentUtcDateTime.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: nondeterministicImports.map((name) => ({
            name,
            message: 'Orchestrators do no I/O: call an activity.',
          })),
          patterns: [
            {
              group: ['@azure/*', '!@azure/functions', '@kubernetes/*', 'axios', 'undici'],
              allowTypeImports: true,
              message: 'Orchestrators may import SDK types only; side effects belong in activities.',
            },
            {
              group: ['**/activities/*', '!**/activities/contract*'],
              message: 'Import activity names and types from activities/contract only.',
            },
          ],
        },
      ],
    },
  },
);
