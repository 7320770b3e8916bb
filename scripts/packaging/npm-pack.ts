/**
 * Binaries for other platforms, taken from the npm registry as the packages publish them (the official Node.js
 * runtimes as node-<os>-<arch>, koffi's prebuilt @koromix/koffi-<os>-<arch>): fetched with `npm pack` into a
 * cache under dist/ (never committed) and unpacked there once.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** `npm pack SPEC` into `cache`, unpacked to `cache/<name>/` (the tarball's package/ folder); returns that folder. */
export function npmPacked(cache: string, spec: string, name: string): string {
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
