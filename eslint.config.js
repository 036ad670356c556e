// Lint, including the layer rules of ARCHITECTURE.md:
//   shared/ imports no Node, DOM or Electron; renderer/ imports only shared/;
//   engine/ never imports electron; only electron/main and electron/preload import electron.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'url', 'zlib', 'stream', 'util', 'worker_threads'];
const electronBan = { group: ['electron', 'electron/*', 'electron-store'], message: 'Only electron/main and electron/preload may import electron (ARCHITECTURE.md layer rules).' };

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'renderer/dist/**', 'test/fixtures/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['shared/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: nodeBuiltins, message: 'shared/ must not import Node modules (layer rule).' },
        { group: ['react', 'react-dom', '@mui/*', '**/renderer/**', '**/electron/**'], message: 'shared/ imports nothing from renderer/ or electron/ (layer rule).' },
        electronBan,
      ] }],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: nodeBuiltins, message: 'renderer/ must not import Node modules (layer rule).' },
        { group: ['**/electron/**', 'onnxruntime-node', 'sharp'], message: 'renderer/ imports only shared/ (layer rule).' },
        electronBan,
      ] }],
    },
  },
  {
    files: ['electron/engine/**/*.ts', 'electron/services/**/*.ts', 'electron/server/**/*.ts', 'electron/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        electronBan,
        { group: ['**/renderer/**'], message: 'Back-end code does not import the renderer (layer rule).' },
      ] }],
    },
  },
  {
    files: ['electron/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        electronBan,
        { group: ['**/renderer/**', '**/electron/main/**', '**/electron/preload/**', '**/electron/services/**', '**/electron/server/**'], message: 'The engine runs in its own process and imports only engine/ and shared/ (layer rule).' },
      ] }],
    },
  },
);
