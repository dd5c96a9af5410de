/** Timing for the in-process benchmark scripts (bench-tree.ts, bench-rich.ts). */

/** Runs fn `reps` times after a warm-up, prints `label: N µs/op` and returns the µs per op. */
export function time(label: string, reps: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(200, reps); i++) fn(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / reps;
  console.log(`${label}: ${us.toFixed(2)} µs/op (${reps} ops)`);
  return us;
}
