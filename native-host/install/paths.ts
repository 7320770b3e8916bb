/** Where the installed package lives, found from this file whether it runs from sources or from dist/. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "yzt-bridge") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the yzt-bridge package root");
    dir = parent;
  }
}

/**
 * The native-host entry that browsers start through the launcher: the single-file bundle when built
 * (it starts about twice as fast as hundreds of separate modules), else the plain compiled output.
 */
export function hostEntry(): string {
  const bundle = join(packageRoot(), "dist", "host", "main.js");
  return existsSync(bundle) ? bundle : join(packageRoot(), "dist", "native-host", "main.js");
}
