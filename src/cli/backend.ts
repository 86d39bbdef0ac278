// Which device a command runs on. `bench`, `render` and `info` run anywhere: on a host with no
// usable NVIDIA GPU they use the fake device and say so in one line on stderr (its times are
// virtual), so `npx tandem bench` works on a laptop. A GPU is required, and its absence is a
// usage error (exit 2, the driver's own message), only where the command line asks for one:
// --gpu, or a device picked by --device / --devices without --fake.
import { LibraryNotFoundError } from '../cuda/errors.js';
import { UsageError } from '../util/errors.js';
import { driverAvailable } from '../core/open.js';
import { library } from '../cuda/library.js';

export interface BackendFlags {
  fake?: boolean;
  gpu?: boolean;
}

/** The --gpu option's help text, the same on every command. */
export const GPU_OPTION_HELP =
  'Require an NVIDIA GPU: exit 2 if none is usable (default: fall back to the fake device)';

/** True when the command line names a device (--device N, --devices X): that asks for a GPU. */
export function namesDevice(argv: readonly string[]): string | null {
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--(devices?)(?:=|$)/.exec(a);
    if (m) return `--${m[1]}`;
  }
  return null;
}

/**
 * True to run on the fake device. Without a usable GPU: the fake device with a one-line banner,
 * unless the command line asks for a GPU; then the driver's own error (LibraryNotFoundError when
 * it is missing) or a UsageError naming the reason, both exit 2.
 */
export function useFakeDevice(command: string, flags: BackendFlags, argv: readonly string[] = process.argv): boolean {
  if (flags.fake && flags.gpu) throw new UsageError('--fake and --gpu contradict each other: give one');
  if (flags.fake) return true;
  const avail = driverAvailable();
  if (avail.ok) return false;
  const named = namesDevice(argv);
  if (flags.gpu || named) {
    // The missing library's own message says what was searched and how to fix it.
    let reason = avail.reason;
    try {
      library('cuda');
    } catch (err) {
      if (err instanceof LibraryNotFoundError && !named) throw err;
      if (err instanceof Error) reason = err.message;
    }
    const fix = named ? `${named} names a GPU: add --fake for the fake device` : 'drop --gpu to run on the fake device';
    throw new UsageError(`${reason.replace(/[.\s]+$/, '')}; ${fix}`);
  }
  process.stderr.write(`${fallbackBanner(command, avail.reason)}\n`);
  return true;
}

/** driverAvailable()'s reason, short: 'no NVIDIA driver found' or 'no usable NVIDIA GPU: …'. */
export function noGpuReason(reason: string): string {
  const why = /No NVIDIA driver found/i.test(reason) ? 'no NVIDIA driver found' : `no usable NVIDIA GPU: ${reason}`;
  return why.replace(/\s+/g, ' ').replace(/[.\s]+$/, '');
}

/** The one line printed when a command falls back to the fake device. */
export function fallbackBanner(command: string, reason: string): string {
  return `tandem ${command}: ${noGpuReason(reason)}; running on the fake device, whose times are virtual (not GPU figures); --gpu requires a GPU`;
}
