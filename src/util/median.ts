// The median of a sample: the mean of the middle two for an even count. Shared by 'auto' depth's
// warm-up figures, the bench sweep's repeats and the benchmarks' repeated runs.
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
