import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past the live data before its next
 * full collection, in percent. V8 sizes that from the machine (up to 4x the
 * live set with gigabytes free); a server that churns through short-lived
 * requests then holds hundreds of MB of garbage. 40 keeps the heap within
 * 1.4x the live set for a few percent more GC time (README "Performance").
 * Process-wide, so `keygate serve` sets it (cli.ts), not createKeygate.
 */
export function tuneHeap(growthPercent: number): void {
  if (growthPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${growthPercent}`);
}
