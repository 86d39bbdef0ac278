// Runs the parsed CLI and turns every failure a user can cause into one clear line on stderr
// and an exit code: 2 for usage errors and a missing driver, 130 for an interrupt, 1 otherwise.
// Stack traces only with TANDEM_DEBUG=1.
import type { CAC } from 'cac';
import { LibraryNotFoundError, UsageError } from '../cuda/errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export async function runCli(cli: CAC, argv: readonly string[]): Promise<void> {
  try {
    cli.parse([...argv], { run: false });
    if (!cli.matchedCommand) {
      const first = cli.args[0];
      if (first !== undefined) throw new UsageError(`unknown command '${first}'; run 'tandem --help' for the commands`);
      if (!cli.options.help && !cli.options.version) cli.outputHelp();
      return;
    }
    await cli.runMatchedCommand();
  } catch (err) {
    process.exitCode = reportCliError(err);
  }
}

/** Prints the error as the user should see it and returns the exit code. */
export function reportCliError(err: unknown): number {
  const e = err as Error & { name?: string };
  const debug = process.env.TANDEM_DEBUG === '1';
  let code = EXIT_FAILURE;
  if (e?.name === 'CACError' || e instanceof UsageError) code = EXIT_USAGE;
  else if (e instanceof LibraryNotFoundError && e.library === 'cuda') code = EXIT_USAGE;
  else if (e?.name === 'AbortError') code = EXIT_INTERRUPTED;
  const msg = e instanceof Error ? e.message : String(err);
  process.stderr.write(`tandem: ${msg}\n`);
  if (e instanceof Error && e.cause instanceof Error && !msg.includes(e.cause.message)) {
    process.stderr.write(`  caused by: ${e.cause.message}\n`);
  }
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return code;
}
