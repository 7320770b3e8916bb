/** Compiles the virtual-token shim with the system C compiler (cc), once per change of shim.c. */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SHIM_NAME = "libyzt-vtoken.so";

/** The repository root: the nearest directory above this file with yzt-bridge's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "test", "virtual-token", "shim.c"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the yzt-bridge repository root");
    dir = parent;
  }
}

export function buildShim(home: string): string {
  const source = join(repoRoot(), "test", "virtual-token", "shim.c");
  const cacheDir = join(repoRoot(), "dist", "vtoken");
  const cached = join(cacheDir, SHIM_NAME);
  if (!existsSync(cached) || statSync(cached).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(cacheDir, { recursive: true });
    execFileSync("cc", ["-shared", "-fPIC", "-O2", "-Wall", "-Wno-format-truncation", "-I/usr/include/p11-kit-1", "-o", cached, source, "-ldl", "-lpthread"], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  }
  mkdirSync(home, { recursive: true });
  // The shim finds its state next to itself, so each virtual-token home gets its own copy.
  const target = join(home, SHIM_NAME);
  copyFileSync(cached, target);
  return target;
}
