/**
 * A spare driver: the host's small loader (bundle/host-entry.ts) starts one driver process before it loads
 * the host's bundle, so that the driver's Node start overlaps the host's own instead of following it (the
 * first key list of a browser session waited for both, one after the other). The spare knows no library yet:
 * it waits for a `load` frame (wire.ts) on its stdin. The first library of the host's architecture that
 * DriverLibrary starts takes it; the host kills it once its libraries are set up if none did. The loader and
 * the bundle are separate module instances, so the spare is handed over through a global symbol.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { driverStdio } from "./stdio-layout.js";

/** What a driver process is started with (launch.ts); `spare`: its library comes in the first frame. */
export const DRIVER_FLAG = "--yzt-driver";
export const SPARE = "spare";

const KEY = Symbol.for("yzt-bridge.spare-driver");

interface Spare {
  child: ChildProcess;
  /** The entry it runs: a library's own driver command must name the same. */
  entry: string;
}

type WithSpare = typeof globalThis & { [KEY]?: Spare };

/** Starts the spare (the host's loader does, unless key libraries run in-process). */
export function startSpareDriver(entry: string, env: NodeJS.ProcessEnv = process.env): void {
  if (process.argv[2] === DRIVER_FLAG || env.YZT_KEY_DRIVERS === "inprocess") return;
  const child = spawn(process.execPath, [entry, DRIVER_FLAG, SPARE], { stdio: driverStdio(process.arch).stdio, windowsHide: true });
  // A spare that could not start is simply not there: the library's driver is started as usual.
  child.on("error", () => undefined);
  child.stdin?.on("error", () => undefined);
  (globalThis as WithSpare)[KEY] = { child, entry };
}

/** The spare, for a driver that runs `entry` on this process's own runtime; null when there is none (left). */
export function claimSpareDriver(runtime: string, entry: string): ChildProcess | null {
  const spare = (globalThis as WithSpare)[KEY];
  if (!spare || runtime !== process.execPath || entry !== spare.entry || spare.child.exitCode !== null || spare.child.signalCode !== null) return null;
  delete (globalThis as WithSpare)[KEY];
  return spare.child;
}

/** Ends a spare no library took (its stdin closing ends it too; a kill does not wait for that). */
export function releaseSpareDriver(): void {
  const spare = (globalThis as WithSpare)[KEY];
  if (!spare) return;
  delete (globalThis as WithSpare)[KEY];
  spare.child.kill();
}
