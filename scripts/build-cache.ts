/**
 * What the package build and the test libraries' builds share: outputs made once per change of their inputs
 * (compiled test libraries, cross-compiled addons), in a way that test workers and package builds running at
 * the same time never see half of; whether a build tool is installed; an installed package's version.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** True when `tool` runs here (asked for its version). */
export function toolAvailable(tool: string): boolean {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The version of an npm package installed in the checkout at `root`. */
export function installedVersion(root: string, name: string): string {
  return (JSON.parse(readFileSync(join(root, "node_modules", ...name.split("/"), "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Makes `output` with `produce` unless it is newer than every input. Produced under a temporary name and
 * renamed, so that test workers building at the same time never load a half-written library.
 */
export function buildIfStale(output: string, inputs: string[], produce: (partial: string) => void): string {
  const newestInput = Math.max(...inputs.map((input) => statSync(input).mtimeMs));
  if (!existsSync(output) || statSync(output).mtimeMs < newestInput) {
    mkdirSync(dirname(output), { recursive: true });
    const partial = `${output}.${process.pid}.tmp`;
    try {
      produce(partial);
      renameSync(partial, output);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  return output;
}
