/** Median of numbers: no other import, so log summaries (dev/gpu/ab_summary.ts) run without the native addon. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
