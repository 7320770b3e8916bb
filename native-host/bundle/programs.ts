/**
 * The entry of dist/host/bundle.cjs, the one file that holds the host and the `yzt` CLI with their
 * dependencies (scripts/bundle-host.ts). The small loaders beside it (host-entry.ts, cli-entry.ts, through
 * run-bundle.ts) pick the program; each program's module runs as it does unbundled.
 */
import { settleLean } from "../support/v8-settings.js";

export type Program = "host" | "cli";

// The loader compiles vendor.cjs, writes code caches and loads Node's built-ins through the bundle's own copy of
// the V8 settings, the one that knows whether the host has turned lean.
export { needOptimisingCompiler, underNodeDefaults } from "../support/v8-settings.js";

export function start(program: Program): void {
  // The host runs lean from here on; the loader compiled this bundle, from its cache, before.
  if (program === "host") settleLean();
  void (program === "host" ? import("../main.js") : import("../cli/entry.js"));
}
