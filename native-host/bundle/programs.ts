/**
 * The entry of dist/host/bundle.cjs, the one file that holds the host and the `yzt` CLI with their
 * dependencies (scripts/bundle-host.ts). The small loaders beside it (host-entry.ts, cli-entry.ts, through
 * run-bundle.ts) pick the program; each program's module runs as it does unbundled.
 */
export type Program = "host" | "cli";

export function start(program: Program): void {
  void (program === "host" ? import("../main.js") : import("../cli/entry.js"));
}
