type CpuUsage = { user: number; system: number };
const proc = (globalThis as { process?: { cpuUsage?: (prev?: CpuUsage) => CpuUsage } }).process;

/** Milliseconds of CPU this process spends in `f` (wall-clock time where CPU time is not available). CPU time,
 *  because the shared test machine is often far busier than its two cores: a wall clock then measures how long we
 *  waited for a core, not how much work the code did. Catastrophic backtracking costs CPU all the same. */
function cost(f: () => void): number {
  if (proc?.cpuUsage) {
    const start = proc.cpuUsage();
    f();
    const used = proc.cpuUsage(start);
    return (used.user + used.system) / 1000;
  }
  const start = performance.now();
  f();
  return performance.now() - start;
}

/** The cheapest of three runs of `f`, in ms (a first run also pays for warming up). */
export function bestOf3(f: () => void): number {
  return Math.min(cost(f), cost(f), cost(f));
}
