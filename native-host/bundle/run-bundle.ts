/**
 * Runs dist/host/bundle.cjs with V8's code cache. Node 20 caches compiled code for neither ES modules nor
 * CommonJS files, so every start parsed and compiled the host anew: on a tax payer's first contact, the
 * browser starts the host when the login page asks for certificates, and that compile was most of what the
 * host added to Node's own start. The bundle is compiled here as a vm.Script with the cache written at build
 * time (scripts/bundle-host.ts runs the host once with YZT_CODE_CACHE=write), for the Node that built it:
 * the packages ship that Node. Another Node (a Windows runtime, a newer Node in a checkout) has V8 reject the
 * cache, and the bundle is then compiled as usual: slower, never wrong.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { Program } from "./programs.js";

export const BUNDLE_FILE = "bundle.cjs";
export const CODE_CACHE_FILE = "bundle.cjs.v8-cache";

interface BundleExports {
  start(program: Program): void;
}

function readCache(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Writes what V8 compiled during this run; replaces the file whole, so a concurrent start never reads half of one. */
function writeCache(script: Script, path: string): void {
  const temporary = `${path}.${process.pid}`;
  writeFileSync(temporary, script.createCachedData());
  renameSync(temporary, path);
}

export function runBundle(program: Program, loaderUrl: string): void {
  const dir = dirname(fileURLToPath(loaderUrl));
  const file = join(dir, BUNDLE_FILE);
  const cachePath = join(dir, CODE_CACHE_FILE);
  const cachedData = process.env.YZT_CODE_CACHE === "write" ? undefined : readCache(cachePath);
  // The CommonJS wrapper on the bundle's first line keeps its line numbers in stack traces.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "latin1")}\n})`;
  const script = new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (process.env.YZT_CODE_CACHE === "write") process.once("exit", () => writeCache(script, cachePath));
  const module = { exports: {} as BundleExports };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dir);
  module.exports.start(program);
}
