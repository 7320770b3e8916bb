/** Compiles the virtual-token shim with the system C compiler (cc), once per change of shim.c. */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../native-host/install/paths.js";

export const SHIM_NAME = "libyzt-vtoken.so";

/** The repository root (the shim source lives in it). */
export const repoRoot = packageRoot;

export function buildShim(home: string): string {
  const source = join(repoRoot(), "test", "virtual-token", "shim.c");
  const cacheDir = join(repoRoot(), "dist", "vtoken");
  const cached = join(cacheDir, SHIM_NAME);
  if (!existsSync(cached) || statSync(cached).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(cacheDir, { recursive: true });
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-Wall", "-Wno-format-truncation", "-I/usr/include/p11-kit-1", "-o", cached, source, "-ldl", "-lpthread", "-lcrypto"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  }
  mkdirSync(home, { recursive: true });
  // The shim finds its state next to itself, so each virtual-token home gets its own copy.
  const target = join(home, SHIM_NAME);
  copyFileSync(cached, target);
  return target;
}
