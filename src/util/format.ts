// Numbers as people read them and write them: in messages, summaries and command lines.
import { UsageError } from './errors.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** 96 GiB, 1.5 MiB, 512 B: binary units, one decimal at most. */
export function formatBytes(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KB: 1024,
  KIB: 1024,
  M: 1024 ** 2,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
};

/** '64M', '4MiB', '512K', '1048576' → bytes (binary units: M = MiB); a UsageError naming `option` otherwise. */
export function parseBytes(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? BYTE_UNITS[m[2]!.toUpperCase()] : undefined;
  if (!m || unit === undefined)
    throw new UsageError(`${option}: cannot read '${text}'; write sizes like 64M, 4M, 512K or a byte count`);
  return Math.round(Number(m[1]) * unit);
}
