// The tandem CLI: data on stdout, progress and logs on stderr. Each command lives in its own file.
import { cac } from 'cac';
import { registerInfo } from './commands/info.js';
import { registerBench } from './commands/bench.js';
import { registerRender } from './commands/render.js';
import { runCli } from './run-cli.js';
import { tandemVersion } from '../profile/results.js';

const cli = cac('tandem');
registerInfo(cli);
registerBench(cli);
registerRender(cli);
// cac prints negated flags as `--no-trace  … (default: true)`, which reads as if the flag were on.
cli.help((sections) =>
  sections.map((s) => ({ ...s, body: s.body.replace(/^(\s*--no-\S+.*?)\s*\(default: true\)/gm, '$1') })),
);
// tandem's own version (its package.json), not that of the package npm runs it from.
cli.version(tandemVersion());
await runCli(cli, process.argv);
