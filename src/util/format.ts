// Numbers as people read them in messages and summaries.

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** 96 GiB, 1.5 MiB, 512 B: binary units, one decimal at most. */
export function formatBytes(n: number): string {
  if (n >= GiB) return `${+(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
