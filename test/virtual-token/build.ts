/**
 * Compiles the virtual-token libraries with the system C compiler (cc), once per change of their source: the
 * PKCS#11 shim (shim.c) and its SKF face (skf.c), which dlopens the shim from its own directory.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../native-host/install/paths.js";
import { buildIfStale } from "../../scripts/build-cache.js";

export const SHIM_NAME = "libyzt-vtoken.so";
export const SKF_NAME = "libyzt-vskf.so";

/** The repository root (the shim source lives in it). */
export const repoRoot = packageRoot;

/**
 * SKF test variants built from the same source (skf.c's header comment says what each does): `missing-export`
 * lacks SKF_ECCSignData, `garbage-lengths` answers nonsense lengths, `sm2-only` has only what an SM2 key needs,
 * `lp64` has a 64-bit ULONG, `noisy` prints to stdout; the `crash-*` and `hang-*` variants fail as vendor
 * libraries were seen to.
 */
export type SkfVariant = "standard" | "missing-export" | "garbage-lengths" | "sm2-only" | "lp64" | "noisy" | "crash-enum" | "crash-sign" | "hang-sign" | "hang-enum" | "hang-wait";

const SKF_DEFINES: Record<SkfVariant, string[]> = {
  standard: [],
  "missing-export": ["-DVSKF_MISSING_EXPORT"],
  "garbage-lengths": ["-DVSKF_GARBAGE_LENGTHS"],
  "sm2-only": ["-DVSKF_SM2_ONLY"],
  lp64: ["-DVSKF_LP64"],
  noisy: ["-DVSKF_NOISY"],
  "crash-enum": ["-DVSKF_FAULT_CRASH_ENUM"],
  "crash-sign": ["-DVSKF_FAULT_CRASH_SIGN"],
  "hang-sign": ["-DVSKF_FAULT_HANG_SIGN"],
  "hang-enum": ["-DVSKF_FAULT_HANG_ENUM"],
  "hang-wait": ["-DVSKF_FAULT_HANG_WAIT"],
};

/** A source of the virtual token, with the headers every source includes. */
export function virtualTokenSources(sourceName: string): string[] {
  return [sourceName, "pkcs11-text.h", "skf-abi.h"].map((name) => join(repoRoot(), "test", "virtual-token", name));
}

/** Compiles a source into dist/vtoken/<name> with the system C compiler, once per change of its sources. */
function compileCached(sourceName: string, name: string, extraArgs: string[]): string {
  const sources = virtualTokenSources(sourceName);
  return buildIfStale(join(repoRoot(), "dist", "vtoken", name), sources, (partial) => {
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-Wall", ...extraArgs, "-I/usr/include/p11-kit-1", "-o", partial, sources[0]!, "-ldl", "-lpthread", "-lcrypto"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  });
}

export function buildShim(home: string): string {
  const cached = compileCached("shim.c", SHIM_NAME, ["-Wno-format-truncation"]);
  mkdirSync(home, { recursive: true });
  // The shim finds its state next to itself, so each virtual-token home gets its own copy.
  const target = join(home, SHIM_NAME);
  copyFileSync(cached, target);
  return target;
}

/** The file name of an SKF variant in a home: libyzt-vskf.so, libyzt-vskf-missing-export.so, … */
export function skfFileName(variant: SkfVariant = "standard"): string {
  return variant === "standard" ? SKF_NAME : SKF_NAME.replace(/\.so$/, `-${variant}.so`);
}

/**
 * The virtual SKF key library, copied into home next to the shim (which it loads from its own directory, so the
 * home must already hold the shim: buildShim first). Returns its absolute path.
 */
export function buildSkf(home: string, variant: SkfVariant = "standard"): string {
  const cached = compileCached("skf.c", skfFileName(variant), ["-fvisibility=hidden", ...SKF_DEFINES[variant]]);
  mkdirSync(home, { recursive: true });
  const target = join(home, skfFileName(variant));
  copyFileSync(cached, target);
  return target;
}
