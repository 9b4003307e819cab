// ESLint with typescript-eslint's type-checked rules: what the compiler cannot see (floating
// promises, unsafe `any`, misused promises) is caught before review. Formatting is Prettier's.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '**/*.generated.ts', 'recipes/*/static/**', 'templates/**'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test/describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      // An `async` implementation of an async interface (the SQLite side of the recipe database,
      // fakes in tests) keeps a synchronous throw a rejection: wanted even without an `await`.
      '@typescript-eslint/require-await': 'off',
      // A `let` read by a closure before its one assignment (the host's late-bound parts) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests and benchmarks read Orthanc's and the host's JSON answers as they come: asserting on
    // an untyped answer is their job, so the unsafe-any rules are for the shipped code only.
    files: ['test/**/*.ts', 'recipes/*/test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // A failing assertion's message may show any answer, bytes included.
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Declarations of untyped packages describe their shape: nothing in them is "used".
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
