/**
 * Runs dist/host/bundle.cjs with V8's code cache. Node 20 caches compiled code for neither ES modules nor
 * CommonJS files, so every start parsed and compiled the host anew: on a tax payer's first contact, the
 * browser starts the host when the login page asks for certificates, and that compile was most of what the
 * host added to Node's own start. Each bundle is compiled here as a vm.Script with the cache written at build
 * time (scripts/bundle-host.ts runs the host once with YZT_CODE_CACHE=write), for the Node that built it:
 * the packages ship that Node. Another Node (a Windows runtime, a newer Node in a checkout) has V8 reject the
 * cache, and the bundle is then compiled as usual: slower, never wrong.
 *
 * The libraries only some requests need (CMS, chains, envelopes, XML signatures: pkijs, @peculiar/webcrypto,
 * xml-crypto, xmldom) are a second bundle, vendor.cjs, which the host bundle requires on first use; it is
 * loaded the same way, with its own cache. V8 accepts a cache only under the flags it was written under, and
 * the host turns to leaner flags as soon as its bundle has loaded (support/v8-settings.ts): every compile here,
 * every cache written, and every Node built-in the bundles load happen under Node's defaults.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { Program } from "./programs.js";
import type { needOptimisingCompiler, underNodeDefaults } from "../support/v8-settings.js";
import { createLogger } from "../support/log.js";

export const BUNDLE_FILE = "bundle.cjs";
export const VENDOR_FILE = "vendor.cjs";
/** Where a bundle's code cache lives: beside it. */
export const codeCacheFile = (bundleFile: string) => `${bundleFile}.v8-cache`;

interface V8Settings {
  underNodeDefaults: typeof underNodeDefaults;
  needOptimisingCompiler: typeof needOptimisingCompiler;
}

interface BundleExports extends V8Settings {
  start(program: Program): void;
}

/**
 * The bundle's V8 settings, once it has loaded. Until then Node's defaults are in force and nothing needs
 * switching; the loader has no copy of its own, which would not know when the host turned lean.
 */
let v8Settings: V8Settings = { underNodeDefaults: (compile) => compile(), needOptimisingCompiler: () => {} };

type Require = (id: string) => unknown;

const writing = () => process.env.YZT_CODE_CACHE === "write";

function readCache(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Writes what V8 compiled during this run; replaces the file whole, so a concurrent start never reads half of
 * one. V8 stamps a cache with the flags in force when it is written, not those it compiled under.
 */
function writeCache(script: Script, path: string): void {
  const temporary = `${path}.${process.pid}`;
  writeFileSync(temporary, v8Settings.underNodeDefaults(() => script.createCachedData()));
  renameSync(temporary, path);
}

/** Compiles one CommonJS bundle (from its cache where V8 accepts it) and runs it; returns its exports. */
function loadBundle(file: string, bundleRequire: Require): unknown {
  const cachePath = codeCacheFile(file);
  const cachedData = writing() ? undefined : readCache(cachePath);
  // Bundles are ASCII (bundle-host.ts makes sure), so latin1 reads them exactly, without UTF-8 decoding. The
  // CommonJS wrapper on the first line keeps the bundle's line numbers in stack traces.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "latin1")}\n})`;
  const script = v8Settings.underNodeDefaults(() => new Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) }));
  // A package ships caches only beside the runtime that wrote them (scripts/packaging/stage.ts): a rejection is a
  // start slower than it should be (another Node version given to the build), never wrong.
  if (cachedData && script.cachedDataRejected) createLogger().log("debug", "code cache rejected", { bundle: basename(file) });
  if (writing()) process.once("exit", () => writeCache(script, cachePath));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, bundleRequire, module, file, dirname(file));
  return module.exports;
}

export function runBundle(program: Program, loaderUrl: string): void {
  const dir = dirname(fileURLToPath(loaderUrl));
  const file = join(dir, BUNDLE_FILE);
  const createdRequire = createRequire(file);
  // Node's built-in modules come with code caches of their own (see loadBundle). Each id is switched for once:
  // the bundle asks for the same few modules at dozens of places, and each switch of flags costs V8 some 20 µs.
  const required = new Map<string, unknown>();
  const nodeRequire: Require = (id) => {
    if (!required.has(id)) required.set(id, v8Settings.underNodeDefaults(() => createdRequire(id)));
    return required.get(id);
  };
  let vendor: unknown;
  const loadVendor = () => {
    // The vendor libraries build CMS and XML in JavaScript.
    v8Settings.needOptimisingCompiler();
    return loadBundle(join(dir, VENDOR_FILE), nodeRequire);
  };
  // The host bundle asks for the vendor bundle by this name (bundle-host.ts); everything else is Node's.
  const bundleRequire: Require = Object.assign((id: string) => (id === `./${VENDOR_FILE}` ? (vendor ??= loadVendor()) : nodeRequire(id)), createdRequire);
  const host = loadBundle(file, bundleRequire) as BundleExports;
  v8Settings = host;
  host.start(program);
}
