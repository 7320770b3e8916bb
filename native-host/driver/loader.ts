/**
 * The program entries' choice of loader: every key library in a driver process of its own (the default), or
 * in the host's own process when YZT_KEY_DRIVERS=inprocess (the benchmark's floor; never in a package).
 * Limits can be shortened for tests through YZT_DRIVER_*_MS; DESIGN.md's values are the defaults.
 */
import type { Logger } from "../support/log.js";
import type { LoaderFactory } from "../token/setup.js";
import { QuarantineStore } from "./quarantine.js";
import { DEFAULT_LIMITS, DriverLibrary, type DriverLimits } from "./remote-library.js";

function limit(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export function driverLimitsFrom(env: NodeJS.ProcessEnv): DriverLimits {
  return {
    scanMs: limit(env.YZT_DRIVER_SCAN_LIMIT_MS, DEFAULT_LIMITS.scanMs),
    callMs: limit(env.YZT_DRIVER_CALL_LIMIT_MS, DEFAULT_LIMITS.callMs),
    heartbeatMs: limit(env.YZT_DRIVER_HEARTBEAT_MS, DEFAULT_LIMITS.heartbeatMs),
    stopGraceMs: limit(env.YZT_DRIVER_STOP_GRACE_MS, DEFAULT_LIMITS.stopGraceMs),
  };
}

/** What the program entries pass to setupService: the loader (undefined: in this process) and the quarantine. */
export function keyLibraryLoading(env: NodeJS.ProcessEnv, logger: Logger): { loader?: LoaderFactory; liftQuarantine: () => string[] } {
  const quarantine = new QuarantineStore(env);
  const liftQuarantine = () => quarantine.clear();
  if (env.YZT_KEY_DRIVERS === "inprocess") return { liftQuarantine };
  const options = { limits: driverLimitsFrom(env), quarantine, logger };
  return { loader: async () => (candidate) => new DriverLibrary(candidate, options), liftQuarantine };
}
