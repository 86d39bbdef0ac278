// What the root eslint.config.js needs from this workspace: resolved here, where typescript-eslint
// finds the TypeScript it supports (5.9) instead of the project's compiler (7).
export { default as js } from '@eslint/js';
export { default as tseslint } from 'typescript-eslint';
