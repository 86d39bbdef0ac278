// `tandem info [--json]`: the devices, and what this host measures on the first one (or the one
// given): pinned H2D/D2H and pageable D2H bandwidth, empty-kernel launch cost.
// Without a usable GPU (or with --fake) it says so and shows the fake device the other commands
// then run on; with --gpu a missing driver reaches run-cli instead: one line, exit code 2.
import type { CAC } from 'cac';
import { LibraryNotFoundError } from '../../cuda/errors.js';
import { formatBytes } from '../../util/format.js';
import { UsageError } from '../../util/errors.js';
import { driverAvailable, listDevices } from '../../core/open.js';
import { open } from '../../pipeline/device.js';
import { library } from '../../cuda/library.js';
import { nvrtcVersion } from '../../cuda/nvrtc.js';
import {
  EMPTY_KERNEL_SOURCE,
  measureLaunchCost,
  measurePageableD2H,
  measurePinnedBandwidth,
} from '../../core/measure.js';
import type { DeviceProperties } from '../../core/types.js';
import { GPU_OPTION_HELP, noGpuReason, useFakeDevice } from '../backend.js';

interface InfoOptions {
  json?: boolean;
  fake?: boolean;
  gpu?: boolean;
  device?: number;
  measure?: boolean;
}

export interface InfoReport {
  /** 'fake': no usable GPU here (or --fake); the devices are the fake device. */
  backend: 'cuda' | 'fake';
  /** Why the fake device is shown, or null on a GPU. */
  note: string | null;
  driverVersion: string | null;
  nvrtc: string | null;
  devices: (DeviceProperties & { memoryFree: number | null })[];
  measured: {
    device: number;
    pinnedH2DGBps: number;
    pinnedD2HGBps: number;
    pageableD2HGBps: number;
    emptyLaunchUs: number | null;
    /** Why the launch cost is missing (no NVRTC), else null. */
    launchNote: string | null;
  } | null;
}

export function registerInfo(cli: CAC): void {
  cli
    .command('info', 'List NVIDIA GPUs and measure copy bandwidth and launch cost')
    .option('--json', 'Print the report as JSON on stdout')
    .option('--device <ordinal>', 'Device to measure', { default: 0 })
    .option('--no-measure', 'Only list devices')
    .option('--fake', 'Show the fake device (the default where no GPU is usable)')
    .option('--gpu', GPU_OPTION_HELP)
    .action(async (options: InfoOptions) => {
      const report = useFakeDevice('info', options) ? await fakeInfo(options) : await collectInfo(options);
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatInfo(report));
    });
}

export async function collectInfo(options: InfoOptions = {}): Promise<InfoReport> {
  const avail = driverAvailable();
  if (!avail.ok) {
    // The missing library itself, so run-cli prints what was searched and exits 2.
    try {
      library('cuda');
    } catch (err) {
      if (err instanceof LibraryNotFoundError) throw err;
    }
    throw new UsageError(`no usable NVIDIA GPU: ${avail.reason}`);
  }
  const ordinal = Number(options.device ?? 0);
  const props = listDevices();
  let nvrtc: string | null = null;
  try {
    const v = nvrtcVersion();
    nvrtc = `${v.major}.${v.minor}`;
  } catch {
    nvrtc = null;
  }
  const report: InfoReport = {
    backend: 'cuda',
    note: null,
    driverVersion: `${Math.floor(avail.version / 1000)}.${(avail.version % 1000) / 10}`,
    nvrtc,
    devices: props.map((p) => ({ ...p, memoryFree: null })),
    measured: null,
  };
  if (options.measure === false) return report;
  await using device = await open(ordinal);
  report.devices[ordinal]!.memoryFree = device.memoryInfo().free;
  process.stderr.write(`measuring device ${ordinal} (${device.properties.name})…\n`);
  const pinned = await measurePinnedBandwidth(device);
  const pageable = await measurePageableD2H(device);
  let emptyLaunchUs: number | null = null;
  let launchNote: string | null = null;
  if (nvrtc) {
    using program = device.compile(EMPTY_KERNEL_SOURCE, { name: 'tandem-info.cu', kernels: { empty: [] } });
    using stream = device.createStream({ label: 'launch' });
    const empty = program.getKernel('empty');
    const cfg = { grid: 1, block: 1 };
    emptyLaunchUs = (await measureLaunchCost(stream, () => empty.launch(stream, cfg))).meanUs;
  } else {
    launchNote = 'NVRTC not found: set TANDEM_NVRTC_PATH to measure the launch cost';
  }
  report.measured = {
    device: ordinal,
    pinnedH2DGBps: pinned.h2d.gbps,
    pinnedD2HGBps: pinned.d2h.gbps,
    pageableD2HGBps: pageable.gbps,
    emptyLaunchUs,
    launchNote,
  };
  return report;
}

/** The fake device as `tandem bench` and `tandem render` open it here; nothing to measure. */
export async function fakeInfo(options: InfoOptions = {}): Promise<InfoReport> {
  const { FakeDevice } = await import('../../testing/index.js');
  const avail = options.fake ? null : driverAvailable();
  using device = new FakeDevice({ ordinal: Number(options.device ?? 0) });
  return {
    backend: 'fake',
    note:
      `${avail && !avail.ok ? `${noGpuReason(avail.reason)}; ` : ''}` +
      'the fake device: JS kernels and copies on a virtual clock, for trying tandem and testing code, not for figures',
    driverVersion: null,
    nvrtc: null,
    devices: [{ ...device.properties, memoryFree: device.memoryInfo().free }],
    measured: null,
  };
}

export function formatInfo(r: InfoReport): string {
  const rows = [['#', 'name', 'cc', 'SMs', 'copy engines', 'memory', 'free', 'PCIe', 'bus']];
  for (const d of r.devices) {
    rows.push([
      String(d.ordinal),
      d.name,
      d.computeCapability.join('.'),
      String(d.smCount),
      String(d.asyncEngineCount),
      formatBytes(d.totalMemory),
      d.memoryFree === null ? '-' : formatBytes(d.memoryFree),
      d.pcie
        ? `gen${d.pcie.generation} x${d.pcie.width} (max gen${d.pcie.maxGeneration} x${d.pcie.maxWidth})`
        : 'unknown (no NVML)',
      d.pciBusId,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = [
    r.backend === 'fake' ? (r.note ?? 'the fake device') : `driver ${r.driverVersion}, NVRTC ${r.nvrtc ?? 'not found'}`,
    '',
  ];
  for (const row of rows)
    lines.push(
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  const m = r.measured;
  if (m) {
    lines.push('', `measured on device ${m.device} (64 MiB copies):`);
    lines.push(`  pinned H2D        ${m.pinnedH2DGBps.toFixed(1)} GB/s`);
    lines.push(`  pinned D2H        ${m.pinnedD2HGBps.toFixed(1)} GB/s`);
    lines.push(`  pageable D2H      ${m.pageableD2HGBps.toFixed(1)} GB/s (into a reused Buffer)`);
    lines.push(
      `  empty launch      ${m.emptyLaunchUs === null ? (m.launchNote ?? '-') : `${m.emptyLaunchUs.toFixed(2)} µs`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
