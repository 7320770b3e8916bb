/**
 * Bundles the native host and the `yzt` CLI into dist/host/ (main.js, yzt.js and shared chunks): one file
 * tree that starts about twice as fast as hundreds of compiled modules, and is what the packages ship.
 * The directory is emptied first so no chunk of an older build is ever shipped. pkcs11js stays external:
 * it is a native addon, copied beside the bundle by the packager.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../native-host/install/paths.js";

const root = packageRoot();
const outdir = join(root, "dist", "host");
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, "dist", "native-host", "main.js"), yzt: join(root, "dist", "native-host", "cli", "entry.js") },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outdir,
  external: ["pkcs11js"],
  // Bundled CommonJS dependencies (graphene-pk11, asn1js) call require(): give ESM chunks one.
  banner: { js: "import { createRequire as yztCreateRequire } from 'node:module'; const require = yztCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
