/**
 * Node runtimes of other architectures that an installation ships beside the host's own, for driver
 * processes: `runtime-<arch>/node[.exe]` next to the host's runtime (the Windows installer's 32-bit runtime,
 * for the 32-bit vendor DLLs a 64-bit process cannot load). Here in support/ because both the driver launcher
 * (which starts one) and library discovery (which may then offer a vendor's 32-bit build) ask.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** The installed runtime for `arch`, or null when this installation has none. */
export function driverRuntime(arch: string, hostRuntime: string = process.execPath): string | null {
  const runtime = join(dirname(hostRuntime), `runtime-${arch}`, basename(hostRuntime));
  return existsSync(runtime) ? runtime : null;
}
