// ESLint flat config: ESLint's and typescript-eslint's recommended rules, syntax-only (no type
// information, so linting the whole tree takes seconds). `npm run lint`; CI runs it before the tests.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'build*/', 'prebuilds/', 'packed/', '.bench-out/', 'align-detr-out/', 'align-detr-predictions/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a deliberately unused binding; `{ dropped, ...rest }` omits fields.
      '@typescript-eslint/no-unused-vars': ['error', {
        argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true,
      }],
    },
  },
  {
    // Plain CommonJS run by node: build and packaging scripts, and the test helpers spawned as
    // child processes or workers (package.json has "type": "commonjs", so .js is CommonJS).
    files: ['**/*.cjs', '**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The browser demo page (a classic script beside onnxruntime-web's global `ort`).
    files: ['examples/web/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, ort: 'readonly' } },
  },
  {
    // These tests match terminal output, whose ANSI escape sequences start with the ESC control character.
    files: ['test/cli-visuals.test.ts'],
    rules: { 'no-control-regex': 'off' },
  },
);
