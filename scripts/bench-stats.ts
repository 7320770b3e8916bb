/**
 * The benchmark's arithmetic: medians and 95th percentiles of samples, a key's paths over their floors, and
 * DESIGN.md's budgets with the words each figure is printed beside ("met" / "NOT MET").
 */
import type { Paired } from "./bench-paths.js";

export interface Stats {
  n: number;
  median: number;
  p95: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { n: sorted.length, median: at(0.5), p95: at(0.95), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

export const round = (value: number, digits = 3) => Number(value.toFixed(digits));

/**
 * One key's three signing paths, and what the host and the page cost over the floor measured in turn with
 * each; where the host calls the key differently from the floor (pkcs11js' asynchronous C_Sign), also over
 * that call.
 */
export function keyPaths(key: string, viaHost: Paired, viaPage: Paired) {
  const [hostFloor, host, pageFloor, page] = [viaHost.floor, viaHost.path, viaPage.floor, viaPage.path].map(stats) as [Stats, Stats, Stats, Stats];
  const asyncCall = viaHost.asyncFloor ? stats(viaHost.asyncFloor) : undefined;
  const pageAsyncCall = viaPage.asyncFloor ? stats(viaPage.asyncFloor) : undefined;
  return {
    key, inProcess: hostFloor, host, page, pageFloor, ...(asyncCall ? { asyncCall } : {}),
    ratios: { hostOverFloor: round(host.median / hostFloor.median, 2), pageOverFloor: round(page.median / pageFloor.median, 2) },
    overheadMs: {
      host: round(host.median - hostFloor.median),
      page: round(page.median - pageFloor.median),
      ...(asyncCall && pageAsyncCall ? { hostOverAsyncCall: round(host.median - asyncCall.median), pageOverAsyncCall: round(page.median - pageAsyncCall.median) } : {}),
    },
  };
}

/** DESIGN.md's budgets, as issue 29 set them just above issue 22's floors; every figure is printed beside its own. */
export const BUDGET = {
  coldStartOverBareMs: 45,
  packagedOverBare: 1.4,
  hostOverheadMs: 1,
  pageOverheadMs: 3,
  /** The driver process's hop per signature, over the same host with the library in its own process. */
  driverHopMs: 0.3,
  idleDriverRssMb: 40,
  officeHubListMs: 300,
  idleRssMb: 55,
  rssAfter1000Mb: 60,
  /** SM2 checks per CPU-second before @noble/curves, in the run: must not drop. */
  sm2ChecksPerCpuSecond: 572,
} as const;

export const verdict = (met: boolean) => (met ? "met" : "NOT MET");
