/**
 * How a driver process is started: the host's own entry (the bundle's loader, or the compiled host) with
 * `--yzt-driver <kind> <source> <path>`, under a Node runtime of the library's architecture: the one that
 * runs the host, or one an installation ships beside it (`runtime-<arch>/node[.exe]`, e.g. a 32-bit runtime
 * for 32-bit vendor DLLs on 64-bit Windows). A library no runtime here can load is refused by name, never
 * handed to a loader that fails with words no user can act on. The program entries (main.ts,
 * bundle/programs.ts) look for the flag before anything else, so a driver loads no host code it does not run.
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { YztError } from "../../protocol/errors.js";
import { hostEntry } from "../install/paths.js";
import { driverRuntime } from "../support/runtimes.js";
import type { LibraryCandidate } from "../token/device.js";
import type { ModuleSource } from "../token/modules.js";
import { archOfFile, describeArch, type BinaryArch } from "./binary-arch.js";
import { DRIVER_FLAG, SPARE } from "./spare.js";

export { DRIVER_FLAG } from "./spare.js";

const KINDS = new Set(["pkcs11", "skf"]);
const SOURCES = new Set<string>(["explicit", "config", "p11-kit", "known"] satisfies ModuleSource[]);

export interface DriverCommand {
  command: string;
  args: string[];
  /** The architecture of the runtime it runs on (stdio-layout.ts lays out its descriptors by it). */
  arch: string;
}

/** True in a process started as a driver. */
export function isDriverInvocation(argv: string[] = process.argv): boolean {
  return argv[2] === DRIVER_FLAG;
}

/** The entry a driver runs: beside the bundle when the host runs from it, else the built host. */
function driverEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return basename(here) === "bundle.cjs" ? join(dirname(here), "main.js") : hostEntry();
}

/** The command for a library's driver, or why no runtime of this installation can load it. */
export function driverCommand(candidate: LibraryCandidate, hostRuntime = process.execPath, hostArch: string = process.arch): DriverCommand | { refusal: string } {
  const arch = archOfFile(candidate.path);
  const sameArch = arch === null || arch === hostArch;
  // A runtime of another architecture carries koffi for SKF libraries, never a pkcs11js build of its own.
  if (!sameArch && candidate.kind === "pkcs11") {
    return { refusal: `${candidate.path} is a ${describeArch(arch)} PKCS#11 module, and this installation loads PKCS#11 modules only of its own architecture, ${describeArch(hostArch as BinaryArch)}: install the vendor's ${describeArch(hostArch as BinaryArch)} module, or use its SKF library` };
  }
  const runtime = sameArch ? hostRuntime : driverRuntime(arch, hostRuntime);
  if (runtime === null) {
    return { refusal: `${candidate.path} is a ${describeArch(arch!)} library, and this installation's key drivers run ${describeArch(hostArch as BinaryArch)}: install the vendor's ${describeArch(hostArch as BinaryArch)} driver` };
  }
  return { command: runtime, args: [driverEntry(), DRIVER_FLAG, candidate.kind, candidate.source, candidate.path], arch: sameArch ? hostArch : arch };
}

/** The library a driver process was started for, from its argv. */
export function candidateFromArgs(argv: string[] = process.argv): LibraryCandidate {
  const [flag, kind, source, path] = argv.slice(2);
  const candidate = flag === DRIVER_FLAG ? validCandidate(kind, source, path) : null;
  if (!candidate) throw new YztError("BAD_REQUEST", `a driver is started as: <entry> ${DRIVER_FLAG} <pkcs11|skf> <source> <library path>`);
  return candidate;
}

/** True in a spare driver (spare.ts): its library comes in its first frame. */
export function isSpareInvocation(argv: string[] = process.argv): boolean {
  return argv[2] === DRIVER_FLAG && argv[3] === SPARE && argv.length === 4;
}

/** The library a spare driver is told to load: `{ "load": { kind, source, path } }`, checked as argv is. */
export function candidateFromLoadFrame(frame: unknown): LibraryCandidate {
  const load = (frame as { load?: { kind?: unknown; source?: unknown; path?: unknown } } | null)?.load;
  const candidate = load && typeof load === "object" ? validCandidate(load.kind, load.source, load.path) : null;
  if (!candidate || Object.keys(frame as object).length !== 1) throw new YztError("BAD_REQUEST", "a spare driver's first frame is { load: { kind, source, path } }");
  return candidate;
}

function validCandidate(kind: unknown, source: unknown, path: unknown): LibraryCandidate | null {
  if (typeof kind !== "string" || !KINDS.has(kind) || typeof source !== "string" || !SOURCES.has(source) || typeof path !== "string" || path === "" || path.length > 4096) return null;
  return { kind: kind as LibraryCandidate["kind"], source: source as ModuleSource, path };
}
