// ESLint flat config of the UI, run by scripts/test-ui.sh before the browser
// tests: the recommended rules everywhere. The page's modules run in the
// browser; the tests run in Node, and the functions they hand to
// page.evaluate / waitForFunction run in the page, so they see both.

import js from '@eslint/js';
import globals from 'globals';

export default [
  {ignores: ['node_modules/', 'tests/screenshots/']},
  js.configs.recommended,
  {
    languageOptions: {ecmaVersion: 2024, sourceType: 'module'},
  },
  {
    files: ['**/*.js'],
    ignores: ['eslint.config.js'],
    languageOptions: {globals: globals.browser},
  },
  {
    files: ['tests/**/*.mjs'],
    languageOptions: {globals: {...globals.node, ...globals.browser}},
  },
  {
    files: ['eslint.config.js'],
    languageOptions: {globals: globals.node},
  },
];
