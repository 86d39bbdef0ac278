// ESLint for tandem: typescript-eslint's recommended rules, the line lengths, and the layers.
//
// The layers, bottom up. A module may import from its own layer and the layers below it, never
// from one above; the rule below fails the lint on an upward import (static or dynamic).
//   util      generic errors (TandemError, UsageError, AbortError), formatting, small helpers
//   cuda      raw bindings: driver, NVRTC, NVML, library loading, CudaError
//   core      the object model: devices' resources (streams, events, buffers, programs), DeviceCore
//   pipeline  the overlap pipeline (single and multi-device) and Device = DeviceCore + pipeline()
//   check     the hazard checker: a checked Device over any device
//   testing   the fake device (tandem/testing)
//   formats   frame formats and colour conversion
//   sinks     host stages: raw files, PNG, ffmpeg, callbacks, streams
//   workloads frame and synthetic workloads
//   profile   benchmark and report machinery (tandem/bench)
//   render    render a workload to a sink: the plan, the sink, runRender(); for the CLI and the worker
//   worker    GPU jobs from a BullMQ queue on Redis (tandem/worker): render jobs and user processors
//   cli       the tandem command
// src/index.ts (the public API) may import any layer but cli; bench/ and examples/ use the
// package by its name ('tandem', 'tandem/testing', 'tandem/bench', 'tandem/worker'), never src/ internals.
//
// ESLint and typescript-eslint are installed in tools/lint, apart from the project (its package.json says why).
import { js, tseslint } from './tools/lint/index.js';
import hardMaxLen from './tools/lint/hard-max-len.js';

const LAYERS = [
  'util',
  'cuda',
  'core',
  'pipeline',
  'check',
  'testing',
  'formats',
  'sinks',
  'workloads',
  'profile',
  'render',
  'worker',
  'cli',
];

/** Rules that forbid `layers` as import targets, for files in src/<layer>/ (which sit one level below src/). */
function forbid(layers, why) {
  const regex = `^(\\.\\./)+(${layers.join('|')})/`;
  return {
    'no-restricted-imports': ['error', { patterns: [{ regex, message: why }] }],
    'no-restricted-syntax': [
      'error',
      { selector: `ImportExpression > Literal[value=/${regex.replaceAll('/', '\\/')}/]`, message: why },
    ],
  };
}

const layerRules = LAYERS.slice(0, -1).map((layer, k) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: forbid(LAYERS.slice(k + 1), `'${layer}' may not import a layer above it (eslint.config.js lists the layers)`),
}));

// No line over this many characters, strings included (tools/lint/hard-max-len.js says why it is a rule
// of its own beside max-len).
const HARD_MAX_LEN = 160;

const PUBLIC_ONLY = 'bench/ and examples/ use the public API: import from tandem, tandem/testing or tandem/bench';

export default tseslint.config(
  {
    // Build output, installs, and hidden folders (.gpu-host and other packed copies of the tree).
    ignores: ['dist/', 'node_modules/', 'tools/lint/node_modules/', '.*/', 'out/'],
  },
  { files: ['scripts/**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { ecmaVersion: 2023, sourceType: 'module' } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { tandem: { rules: { 'hard-max-len': hardMaxLen } } },
    rules: {
      // Code and comments within 120 columns (prettier wraps code; comments are wrapped by hand). A line
      // long only because of a string or template literal passes: a message kept whole can be grepped.
      // tandem/hard-max-len stops such a line at HARD_MAX_LEN.
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreStrings: true, ignoreTemplateLiterals: true },
      ],
      // Every line, literals included, within HARD_MAX_LEN: a longer message is split into pieces at phrase
      // boundaries.
      'tandem/hard-max-len': ['error', { max: HARD_MAX_LEN }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A Proxy handler or a context object that names its owner ('self', 'recorder') captures it on purpose.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self', 'recorder'] }],
    },
  },
  ...layerRules,
  { files: ['src/index.ts'], rules: forbid(['cli'], 'the public API does not reach into the CLI') },
  {
    files: ['bench/**/*.ts', 'examples/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+src/', message: PUBLIC_ONLY }] }],
    },
  },
);
