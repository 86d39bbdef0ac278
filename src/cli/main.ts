// The tandem CLI: data on stdout, progress and logs on stderr. Each command lives in its own file.
import { cac } from 'cac';
import { registerInfo } from './commands/info.js';
import { registerBench } from './commands/bench.js';
import { registerRender } from './commands/render.js';
import { registerWorker } from './commands/worker.js';
import { registerSubmit } from './commands/submit.js';
import { registerJobs } from './commands/jobs.js';
import { runCli } from './run-cli.js';
import { tandemVersion } from '../profile/results.js';

const cli = cac('tandem');
registerInfo(cli);
registerBench(cli);
registerRender(cli);
registerWorker(cli);
registerSubmit(cli);
registerJobs(cli);
// cac prints negated flags as `--no-trace  … (default: true)`, which reads as if the flag were on.
cli.help((sections) => [
  ...sections.map((s) => ({ ...s, body: s.body.replace(/^(\s*--no-\S+.*?)\s*\(default: true\)/gm, '$1') })),
  {
    title: 'Without a GPU',
    body:
      '  Where no NVIDIA GPU is usable, info, bench and render run on the fake device (JS kernels, virtual\n' +
      '  times) and say so in one line on stderr. --gpu (or naming a device: --device, --devices) requires a\n' +
      '  GPU instead: exit 2 without one. --fake picks the fake device anywhere.',
  },
]);
// tandem's own version (its package.json), not that of the package npm runs it from.
cli.version(tandemVersion());
await runCli(cli, process.argv);
