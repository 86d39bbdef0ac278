// Runs the parsed CLI and turns every failure a user can cause into one clear line on stderr
// and an exit code: 2 for usage errors and a missing driver, 130 for an interrupt, 1 otherwise.
// Stack traces only with TANDEM_DEBUG=1.
import type { CAC } from 'cac';
import { LibraryNotFoundError } from '../cuda/errors.js';
import { UsageError } from '../util/errors.js';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export async function runCli(cli: CAC, argv: readonly string[]): Promise<void> {
  try {
    const args = joinNegativeValues(argv, valueOptions(cli));
    cli.parse(args, { run: false });
    restoreRawValues(cli.options, args);
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

/**
 * `--frames -3` would reach the parser as an unknown option `-3`, and `--out -` (stdout) as a
 * missing value: the parser reads any word starting with '-' as an option. No option name starts
 * with a digit, so a negative number after `--name` is that option's value; a lone `-` after an
 * option that takes a value (`valueNames`) is that value. Both are rewritten `--name=value`, and
 * the command's own validation says what is wrong with them.
 */
export function joinNegativeValues(argv: readonly string[], valueNames: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = /^--([^=]+)$/.exec(a)?.[1];
    if (
      name !== undefined &&
      next !== undefined &&
      (/^-(\d|\.\d)/.test(next) || (next === '-' && valueNames.has(name)))
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The names (kebab-case, as typed) of every option of every command that takes a value. */
export function valueOptions(cli: CAC): Set<string> {
  const names = new Set<string>();
  for (const command of [cli.globalCommand, ...cli.commands]) {
    for (const o of command.options) {
      if (!/[<[]/.test(o.rawName)) continue;
      for (const m of o.rawName.matchAll(/--([\w-]+)/g)) names.add(m[1]!);
    }
  }
  return names;
}

/**
 * The parser turns anything Number() accepts into a number: `--size 0x10` arrives as 16 and
 * `--workload ""` as 0, so a message would quote a value the user never typed. Put back the raw
 * text wherever it is not simply the decimal spelling of the number.
 */
export function restoreRawValues(options: Record<string, unknown>, argv: readonly string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) continue;
    const raw = m[2] ?? argv[i + 1];
    if (raw === undefined) continue;
    const key = m[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = options[key];
    if (typeof v === 'number' && String(v) !== raw) options[key] = raw;
  }
}
