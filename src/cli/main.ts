// The tandem CLI: data on stdout, progress and logs on stderr. Each command lives in its own file.
import { cac } from 'cac';
import { registerInfo } from './commands/info.js';
import { registerBench } from './commands/bench.js';
import { registerRender } from './commands/render.js';
import { registerWorker } from './commands/worker.js';
import { registerSubmit } from './commands/submit.js';
import { registerJobs } from './commands/jobs.js';
import { runCli } from './run-cli.js';

const cli = cac('tandem');
registerInfo(cli);
registerBench(cli);
registerRender(cli);
registerWorker(cli);
registerSubmit(cli);
registerJobs(cli);
// cac prints negated flags as `--no-trace  … (default: true)`, which reads as if the flag were on.
cli.help((sections) =>
  sections.map((s) => ({ ...s, body: s.body.replace(/^(\s*--no-\S+.*?)\s*\(default: true\)/gm, '$1') })),
);
cli.version(process.env.npm_package_version ?? '0.1.0');
await runCli(cli, process.argv);
