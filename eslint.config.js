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

// The orchestration side of the activity contract: every call goes through flow.ts's typed helpers, and
// nothing casts what the runtime hands back (a cast would hide a renamed field).
const typedBoundary = [
  {
    selector: 'MemberExpression[property.name=/^(callActivity|callActivityWithRetry|callSubOrchestrator)$/]',
    message: "Use flow.ts's call/task/child: they carry the contract's types.",
  },
  {
    selector: 'TSAsExpression > YieldExpression',
    message: 'Do not cast what a task yields: use the typed helpers of flow.ts.',
  },
];
// Generators of flow.ts and the flows that are used as `yield*` steps.
const FLOW_HELPERS = [
  'call',
  'sleep',
  'poll',
  'callUntilAnswered',
  'ensureResource',
  'waitUntilReady',
  'recordPower',
  'gate',
  'applyManifests',
  'followModels',
  'all',
  'awaited',
].join('|');

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
    // Only src/config.ts may read the environment: everything else receives the typed config. The CLI is
    // another program (not loaded by the app), whose entry reads its own settings and hands them on.
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts', 'src/cli/main.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings through src/config.ts.' },
      ],
    },
  },
  {
    // Typed lint: a type assertion that changes nothing hides the next change of the type it restates.
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-unnecessary-type-assertion': 'error' },
  },
  {
    // The activity side of the contract: every factory states the ActivityHandlers<…> it implements, so
    // the compiler checks each handler's input and output against the contract.
    files: ['src/activities/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "FunctionDeclaration[id.name=/^create.*Activities$/]:not([returnType.typeAnnotation.typeName.name='ActivityHandlers'])",
          message: 'An activity factory returns ActivityHandlers<…>: the contract checks its handlers.',
        },
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
        ...typedBoundary,
        {
          // A flow helper that is not yielded does nothing at all.
          selector: `ExpressionStatement > CallExpression[callee.name=/^(${FLOW_HELPERS})$/]`,
          message: 'A flow helper does nothing unless it is yielded: `yield* helper(…)`.',
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
            {
              group: ['**/composition*', '**/registry/*', '**/services/*', '**/http/*', '**/functions/*'],
              message: 'Orchestrators reach the world through activities only.',
            },
          ],
        },
      ],
    },
  },
  {
    // flow.ts is the one place that turns the runtime's untyped tasks into the contract's types.
    files: ['src/orchestrators/flow.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'new Date() reads the wall clock: use context.df.currentUtcDateTime.',
        },
      ],
    },
  },
);
