/**
 * Bundles the native host and the `yzt` CLI into dist/host/: bundle.cjs (both programs, one CommonJS file),
 * vendor.cjs (the libraries only some requests need), their V8 code caches, and the two small loaders
 * browsers and users start, main.js and yzt.js (native-host/bundle/run-bundle.ts). One file compiled from a
 * code cache starts far faster than hundreds of ES modules compiled anew at every start (Node 20 caches
 * neither). The directory is emptied first so nothing of an older build is ever shipped. pkcs11js stays
 * external: it is a native addon, copied beside the bundle by the packager (koffi is loaded by path at run
 * time, so it is never bundled).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { packageRoot } from "../native-host/install/paths.js";
import { HOST_PROCESS_ENV } from "../native-host/install/host-manifest.js";
import { BUNDLE_FILE, codeCacheFile, VENDOR_FILE } from "../native-host/bundle/run-bundle.js";
import { encodeFrame, FrameDecoder } from "../native-host/transport/framing.js";
import { provision, USER_PIN } from "../test/virtual-token/provision.js";

const root = packageRoot();
const outdir = join(root, "dist", "host");
const compiled = join(root, "dist", "native-host");
rmSync(outdir, { recursive: true, force: true });

/**
 * Libraries only some requests need (CMS, chains, envelopes, XML signatures), with all they depend on: the
 * second bundle. In the host bundle each is a stub that requires it from there on first use (run-bundle.ts
 * hands the host bundle a `require` that loads vendor.cjs with its code cache).
 */
const VENDOR_PACKAGES = ["pkijs", "asn1js", "@peculiar/webcrypto", "xml-crypto", "@xmldom/xmldom"];
const vendorStubs: Plugin = {
  name: "yzt-vendor-stubs",
  setup(plugin) {
    const names = new RegExp(`^(${VENDOR_PACKAGES.map((name) => name.replace(/[/.@-]/g, "\\$&")).join("|")})$`);
    plugin.onResolve({ filter: names }, (args) => ({ path: args.path, namespace: "yzt-vendor" }));
    plugin.onResolve({ filter: /.*/, namespace: "yzt-vendor" }, (args) => ({ path: args.path, external: true }));
    plugin.onLoad({ filter: /.*/, namespace: "yzt-vendor" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./${VENDOR_FILE}`)})[${JSON.stringify(args.path)}];`,
      loader: "js",
    }));
  },
};

const bundleOptions = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // ASCII only (other characters escaped), so the loader reads it as latin1: no UTF-8 decoding at each start.
  charset: "ascii",
  logLevel: "warning",
} as const;

await build({
  ...bundleOptions,
  entryPoints: [join(compiled, "bundle", "programs.js")],
  outfile: join(outdir, BUNDLE_FILE),
  external: ["pkcs11js"],
  plugins: [vendorStubs],
  // ES modules of the project ask import.meta.url where they are (the package root, version.json, koffi);
  // in the CommonJS bundle that is the bundle file itself.
  define: { "import.meta.url": "__yztBundleUrl" },
  banner: { js: 'var __yztBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
await build({
  ...bundleOptions,
  // Each library is initialised when first asked for, not when the bundle loads.
  stdin: {
    contents: VENDOR_PACKAGES.map((name) => `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => require(${JSON.stringify(name)}) });`).join("\n"),
    resolveDir: root,
    loader: "js",
  },
  outfile: join(outdir, VENDOR_FILE),
});

// esbuild escaped every character outside ASCII in the code; the rest, in comments, goes the same way, so
// the files are ASCII and latin1 reads them exactly.
for (const file of [BUNDLE_FILE, VENDOR_FILE]) {
  const path = join(outdir, file);
  writeFileSync(path, readFileSync(path, "utf8").replace(/[^\x00-\x7f]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

// The loaders are CommonJS too (dist/host/package.json says so): Node starts a CommonJS file without
// setting up its ES module loader, a few milliseconds of every start.
writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
await build({
  ...bundleOptions,
  entryPoints: { main: join(compiled, "bundle", "host-entry.js"), yzt: join(compiled, "bundle", "cli-entry.js") },
  outdir,
  define: { "import.meta.url": "__yztLoaderUrl" },
  banner: { js: 'var __yztLoaderUrl = require("node:url").pathToFileURL(__filename).href;' },
});

/**
 * What the code cache is trained on: the project's virtual key when this machine can make one (SoftHSM and a
 * C compiler, as on every machine that runs the tests), so the cache holds the code of a first contact with a
 * PKCS#11 key; otherwise whatever key libraries discovery finds here, which still covers the host's start.
 */
async function trainingKey(): Promise<{ args: string[]; env: Record<string, string>; requests: Array<{ method: string; params: object }>; dispose(): void }> {
  const home = mkdtempSync(join(tmpdir(), "yzt-code-cache-"));
  const dispose = () => rmSync(home, { recursive: true, force: true });
  try {
    const manifest = await provision(home);
    const certificateId = `${manifest.tokens.find((token) => token.alias === "demo")!.serial}:0101`;
    const origin = "https://code-cache.invalid";
    return {
      args: ["--module", manifest.module],
      env: { YZT_VTOKEN_HOME: home },
      requests: [
        { method: "hello", params: {} },
        { method: "listCertificates", params: {} },
        { method: "login", params: { certificateId, origin, pin: USER_PIN } },
        { method: "sign", params: { certificateId, origin, format: "raw", data: Buffer.from("yzt-bridge").toString("base64") } },
        { method: "sign", params: { certificateId, origin, format: "pkcs7-detached", data: Buffer.from("yzt-bridge").toString("base64") } },
      ],
      dispose,
    };
  } catch (error) {
    console.warn(`bundle-host: no virtual key to train the code cache on (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); using discovery`);
    dispose();
    return { args: [], env: {}, requests: [{ method: "hello", params: {} }, { method: "listCertificates", params: {} }], dispose() {} };
  }
}

/** The code cache: what V8 compiled while the host served a first contact, written as the host exits. */
async function writeCodeCache(): Promise<void> {
  const key = await trainingKey();
  try {
    // As launchers start it.
    const child = spawn(process.execPath, [join(outdir, "main.js"), ...key.args], {
      env: { ...process.env, ...HOST_PROCESS_ENV, ...key.env, YZT_CODE_CACHE: "write", YZT_LOG_LEVEL: "error" },
      stdio: ["pipe", "pipe", "inherit"],
    });
    // One request at a time, as a page makes them; the last answer closes the host's input.
    const decoder = new FrameDecoder(1 << 20);
    let next = 0;
    const send = () => {
      const request = key.requests[next]!;
      next++;
      child.stdin.write(encodeFrame({ id: next, ...request }));
    };
    child.stdout.on("data", (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        if (decoded.kind !== "message" || (decoded.value as { id?: number }).id !== next) continue;
        if (next < key.requests.length) send();
        else child.stdin.end();
      }
    });
    send();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    // Only the host bundle's cache must be there: trained on discovery alone, nothing may have needed
    // vendor.cjs, whose cache is then simply not written.
    if (code !== 0 || !existsSync(join(outdir, codeCacheFile(BUNDLE_FILE)))) throw new Error(`writing the host's code cache failed (exit ${code})`);
  } finally {
    key.dispose();
  }
}

await writeCodeCache();
