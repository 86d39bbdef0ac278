// The layer rule of eslint.config.js, on planted imports: an upward import (static or dynamic)
// fails the lint, a downward one passes, and bench/ may not reach into src/.
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
  ESLint: new (options: { cwd: string }) => Linter;
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
