// The layer rule of eslint.config.js, on planted imports: an upward import (static or dynamic)
// fails the lint, a downward one passes, and bench/ may not reach into src/. And the hard line
// limit, on planted lines: 160 characters pass, 161 fail even when a string makes the line long.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));
// ESLint lives in tools/lint (its own install); only the part of its API used here is typed.
interface LintMessage {
  ruleId: string | null;
  message: string;
}
interface Linter {
  lintText(code: string, options: { filePath: string }): Promise<{ messages: LintMessage[] }[]>;
}
const { ESLint } = createRequire(`${root}tools/lint/package.json`)('eslint') as {
  ESLint: new (options: { cwd: string; overrideConfig?: object }) => Linter;
};
const eslint = new ESLint({ cwd: root });

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

test('core importing the pipeline or render layer fails; util passes', async () => {
  assert.match(
    (
      await errors(
        "import { createPipeline } from '../pipeline/pipeline.js';\nexport { createPipeline };\n",
        'src/core/x.ts',
      )
    )[0]!,
    /no-restricted-imports: .*'core' may not import a layer above it/,
  );
  assert.match(
    (await errors("export const m = () => import('../../render/render.js');\n", 'src/core/completion/x.ts'))[0]!,
    /no-restricted-syntax: 'core' may not import a layer above it/,
  );
  assert.deepEqual(await errors("export { UsageError } from '../util/errors.js';\n", 'src/core/x.ts'), []);
});

test('sinks may use formats but not workloads; bench uses the package name only', async () => {
  assert.deepEqual(await errors("export { frameBytes } from '../formats/frame-format.js';\n", 'src/sinks/x.ts'), []);
  assert.equal((await errors("export { fractal } from '../workloads/fractal.js';\n", 'src/sinks/x.ts')).length, 1);
  assert.equal((await errors("export { open } from '../src/pipeline/device.js';\n", 'bench/x.ts')).length, 1);
  assert.deepEqual(await errors("export { open } from 'tandem';\n", 'bench/x.ts'), []);
});

/** A line of exactly `length` characters, long because of the string on it. */
function stringLine(length: number, quote = "'"): string {
  const head = `export const m = ${quote}`;
  return `${head}${'x'.repeat(length - head.length - 2)}${quote};\n`;
}

test('a line of 161 characters fails even when a string or template makes it long; 160 passes', async () => {
  assert.equal(stringLine(161).length, 162); // 161 and the newline
  assert.deepEqual(await errors(stringLine(160), 'src/util/x.ts'), []);
  assert.deepEqual(await errors(stringLine(160, '`'), 'scripts/x.mjs'), []);
  for (const [line, filePath] of [
    [stringLine(161), 'src/util/x.ts'],
    [stringLine(161, '`'), 'test/x.test.ts'],
    [stringLine(161), 'scripts/x.mjs'],
  ] as const) {
    const found = await errors(line, filePath);
    assert.equal(found.length, 1, filePath);
    assert.match(found[0]!, /^tandem\/hard-max-len: This line is 161 characters long, over the hard limit of 160/);
  }
});
