/**
 * The host's V8 settings: lean from its start, Node's defaults wherever V8 reads or writes a code cache.
 *
 * Lean means no optimising compiler (TurboFan) and a young generation that keeps its first size. The host's
 * everyday work (a frame in, one call into the key's library, a frame out) runs in native code: measured per
 * signature, its own JavaScript took as long without TurboFan as with it, while TurboFan's code and zones, and
 * a young generation grown to 16 MB semi-spaces, kept some 10 MB more resident after a thousand signatures and
 * 30 MB more after 8000. JavaScript-heavy code (the CMS and XML builders of vendor.cjs, SM2 curve arithmetic)
 * turns TurboFan back on before it runs.
 *
 * V8 accepts a code cache only under the flags it was written with. Node's own built-in modules ship such
 * caches, and with a flag changed on the command line (`--max-semi-space-size`) the host's first answer came
 * some 15 ms later, every built-in compiled anew. So the flags are switched at run time, and the loader
 * (bundle/run-bundle.ts) compiles our bundles, writes their caches and loads Node's built-ins under the
 * defaults (`underNodeDefaults`).
 */
import { setFlagsFromString } from "node:v8";
import { onHeavyCompute } from "../../crypto/heavy-compute.js";

/** Node 20's values (V8 11.3) of the flags set here: the ones every code cache is written under. */
const NODE_DEFAULTS = "--turbofan --semi-space-growth-factor=2";

let leanHeap = false;
let optimisingNeeded = false;

/** The flags these two choices call for; with neither made, NODE_DEFAULTS. */
function flagsNow(): string {
  const turbofan = optimisingNeeded || !leanHeap ? "--turbofan" : "--no-turbofan";
  return `${turbofan} --semi-space-growth-factor=${leanHeap ? 1 : 2}`;
}

/** Makes a choice, and tells V8 only when the flags it calls for changed. */
function choose(make: () => void): void {
  const before = flagsNow();
  make();
  const after = flagsNow();
  if (after !== before) setFlagsFromString(after);
}

/** The host calls this as it starts; the `yzt` command line, short-lived, keeps Node's defaults. */
export function settleLean(): void {
  choose(() => (leanHeap = true));
  onHeavyCompute(needOptimisingCompiler);
}

/** Before JavaScript-heavy code; costs nothing once TurboFan is on. */
export function needOptimisingCompiler(): void {
  choose(() => (optimisingNeeded = true));
}

/** Runs `compile` (a code cache read or written, a built-in module loaded) under Node's default flags. */
export function underNodeDefaults<T>(compile: () => T): T {
  if (flagsNow() === NODE_DEFAULTS) return compile();
  setFlagsFromString(NODE_DEFAULTS);
  try {
    return compile();
  } finally {
    setFlagsFromString(flagsNow());
  }
}
