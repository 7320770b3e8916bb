/**
 * Build outputs made once per change of their inputs (compiled test libraries, cross-compiled addons), in a
 * way that test workers and package builds running at the same time never see half of.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";

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
