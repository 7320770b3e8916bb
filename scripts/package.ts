/**
 * `npm run package`: everything a user downloads, built from the current build, into dist/packages/:
 *   yzt-bridge_<v>_amd64.deb, yzt-bridge-<v>-1.x86_64.rpm   host + runtime + extension for Linux
 *   yzt-bridge_<v>_setup.exe   the Windows installer, with a real Windows payload: node.exe and koffi's
 *                              Windows binary from the npm registry (scripts/packaging/windows-payload.ts),
 *                              plus pkcs11js when the release runner passes its build (YZT_WINDOWS_PAYLOAD)
 *   yzt-bridge-<v>.pkg (on macOS)
 *   yzt-bridge-chrome-<v>.crx / .zip, yzt-bridge-firefox-<v>.xpi   the extension alone
 *   yzt-bridge-store-<v>.zip, yzt-bridge-360-<v>.crx   what the stores take (scripts/packaging/store.ts)
 *   SHA256SUMS
 *
 * Inputs that change the bytes are explicit: the version (package.json), SOURCE_DATE_EPOCH (default: the
 * last commit's time), the Node runtime (YZT_NODE_RUNTIME, default this Node), the CRX signing key
 * (YZT_EXTENSION_KEY_FILE, default the development key), a Mozilla-signed .xpi (YZT_SIGNED_XPI), the store
 * ids (packaging/extension-ids.json, YZT_EDGE_EXTENSION_ID, YZT_360_EXTENSION_ID) and the Windows runtime
 * (YZT_WINDOWS_NODE_VERSION, default this Node's version; or YZT_WINDOWS_PAYLOAD). YZT_NSIS_FAST=1 compresses
 * the installer with zlib instead of LZMA (development: a larger file, much sooner).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { packageRoot } from "../native-host/install/paths.js";
import { zipDirectoryBytes } from "../native-host/install/zip.js";
import { buildCrx3, manifestKeyOf } from "./packaging/crx3.js";
import { buildDeb } from "./packaging/deb.js";
import { stageLinuxTree } from "./packaging/linux-tree.js";
import { buildNsisInstaller } from "./packaging/nsis.js";
import { builtChromeManifest } from "./packaging/stage.js";
import { gatherWindowsPayload } from "./packaging/windows-payload.js";
import { gatherLinuxPayload, missingLinuxTools } from "./packaging/linux-payload.js";
import { storePackages } from "./packaging/store.js";
import { publishedIds } from "../native-host/install/extension-ids.js";
import { buildMacPkg } from "./packaging/macos.js";
import { buildRpm } from "./packaging/rpm.js";

export const DEVELOPMENT_KEY = "packaging/keys/extension-development.pem";

export interface PackageOptions {
  outDir: string;
  /** Which artefacts; default all. */
  formats?: Array<"deb" | "deb-arm64" | "rpm" | "nsis" | "macos" | "store">;
}

export interface PackageReport {
  version: string;
  files: string[];
  xpiSigned: boolean;
  /** Where the Windows installer's binaries came from, and whether it carries the PKCS#11 binding; when built. */
  windows?: { source: string; pkcs11: boolean };
  /** The same for the arm64 .deb; `skipped`: why it was not built (a default format without its cross toolchain). */
  arm64?: { source: string; pkcs11: boolean; skipped?: string };
}

function sourceDateEpoch(root: string): number {
  if (process.env.SOURCE_DATE_EPOCH) return Number.parseInt(process.env.SOURCE_DATE_EPOCH, 10);
  try {
    return Number.parseInt(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: root, encoding: "utf8" }).trim(), 10);
  } catch {
    return Date.UTC(2026, 0, 1) / 1000; // not a checkout (a source tarball): a fixed date keeps builds equal
  }
}

export function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}

function signingKey(root: string): string {
  const pem = readFileSync(process.env.YZT_EXTENSION_KEY_FILE ?? join(root, DEVELOPMENT_KEY), "utf8");
  const built = (JSON.parse(readFileSync(join(root, "dist", "extension-chrome", "manifest.json"), "utf8")) as { key?: string }).key;
  if (built !== manifestKeyOf(pem)) {
    throw new Error("the CRX signing key is not the key in dist/extension-chrome/manifest.json: build and package with the same YZT_EXTENSION_KEY_FILE");
  }
  return pem;
}

export function buildPackages(options: PackageOptions): PackageReport {
  const root = packageRoot();
  const version = packageVersion(root);
  const epoch = sourceDateEpoch(root);
  // pkgbuild exists only on macOS: there the .pkg is built, elsewhere the Linux packages.
  const formats = options.formats ?? (process.platform === "darwin" ? ["macos"] : ["deb", "deb-arm64", "rpm", "nsis", "store"]);
  for (const dir of ["host", "extension-chrome", "extension-firefox"]) {
    if (!existsSync(join(root, "dist", dir))) throw new Error(`dist/${dir} is missing: run "npm run build" first`);
  }
  mkdirSync(options.outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "yzt-package-"));
  try {
    const pem = signingKey(root);
    const chromeZip = zipDirectoryBytes(join(root, "dist", "extension-chrome"));
    const crx = buildCrx3(chromeZip, pem);
    const signedXpi = process.env.YZT_SIGNED_XPI;
    const xpi = signedXpi ? readFileSync(signedXpi) : zipDirectoryBytes(join(root, "dist", "extension-firefox"));
    const files: string[] = [];
    const emit = (name: string, content: Buffer) => {
      const path = join(options.outDir, name);
      writeFileSync(path, content);
      files.push(path);
    };
    emit(`yzt-bridge-chrome-${version}.crx`, crx);
    emit(`yzt-bridge-chrome-${version}.zip`, chromeZip);
    emit(`yzt-bridge-firefox-${version}.xpi`, xpi);
    if (formats.includes("store")) {
      const store = storePackages(root, version, crx);
      for (const file of [store.storeZip, store.qihoo360Crx]) emit(file.name, file.bytes);
    }

    const node = process.env.YZT_NODE_RUNTIME ?? process.execPath;
    const common = { root, version, crx, xpi, xpiSigned: Boolean(signedXpi), sourceDateEpoch: epoch };
    const amd64 = formats.includes("deb") || formats.includes("rpm") ? gatherLinuxPayload(root, "amd64") : null;
    if (formats.includes("deb")) {
      const stage = join(work, "deb");
      const tree = stageLinuxTree({ ...common, payload: amd64!, stage, format: "deb" });
      files.push(buildDeb({ stage, tree, version, sourceDateEpoch: epoch, output: join(options.outDir, `yzt-bridge_${version}_amd64.deb`) }));
    }
    let arm64: PackageReport["arm64"];
    const arm64Missing = formats.includes("deb-arm64") ? missingLinuxTools("arm64") : null;
    // Asked for by name, a missing cross toolchain is an error; among the default formats, a skip that is said.
    if (arm64Missing && options.formats) throw new Error(`the arm64 .deb cannot be built here: ${arm64Missing}`);
    if (formats.includes("deb-arm64") && !arm64Missing) {
      const payload = gatherLinuxPayload(root, "arm64");
      const stage = join(work, "deb-arm64");
      const tree = stageLinuxTree({ ...common, payload, stage, format: "deb" });
      files.push(buildDeb({ stage, tree, version, arch: "arm64", sourceDateEpoch: epoch, output: join(options.outDir, `yzt-bridge_${version}_arm64.deb`) }));
      arm64 = { source: payload.source, pkcs11: payload.pkcs11Addon !== null };
    } else if (arm64Missing) {
      arm64 = { source: "", pkcs11: false, skipped: arm64Missing };
    }
    if (formats.includes("rpm")) {
      const stage = join(work, "rpm-root");
      const tree = stageLinuxTree({ ...common, payload: amd64!, stage, format: "rpm" });
      files.push(buildRpm({ stage, tree, version, sourceDateEpoch: epoch, work: join(work, "rpmbuild"), output: join(options.outDir, `yzt-bridge-${version}-1.x86_64.rpm`) }));
    }
    if (formats.includes("macos")) {
      files.push(buildMacPkg({ root, version, node, sourceDateEpoch: epoch, stage: join(work, "macos-root"), work: join(work, "macos"), output: join(options.outDir, `yzt-bridge-${version}.pkg`) }));
    }
    let windows: PackageReport["windows"];
    if (formats.includes("nsis")) {
      const payload = gatherWindowsPayload({ root, ...(process.env.YZT_WINDOWS_PAYLOAD ? { given: process.env.YZT_WINDOWS_PAYLOAD } : {}), ...(process.env.YZT_WINDOWS_NODE_VERSION ? { nodeVersion: process.env.YZT_WINDOWS_NODE_VERSION } : {}) });
      const ids = publishedIds(root, { chrome: builtChromeManifest(root).chromeId });
      const output = join(options.outDir, `yzt-bridge_${version}_setup.exe`);
      files.push(buildNsisInstaller({ root, version, work: join(work, "nsis"), xpi, xpiSigned: Boolean(signedXpi), output, payload, ids, fast: process.env.YZT_NSIS_FAST === "1" }));
      windows = { source: payload.source, pkcs11: payload.pkcs11Addon !== null };
    }
    const sums = files
      .sort()
      .map((path) => `${createHash("sha256").update(readFileSync(path)).digest("hex")}  ${basename(path)}`)
      .join("\n");
    emit("SHA256SUMS", Buffer.from(sums + "\n"));
    return { version, files, xpiSigned: Boolean(signedXpi), ...(windows ? { windows } : {}), ...(arm64 ? { arm64 } : {}) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

if (process.argv[1] && basename(process.argv[1]) === "package.js") {
  const formats = argument("formats")?.split(",") as PackageOptions["formats"];
  const report = buildPackages({ outDir: argument("out") ?? join(packageRoot(), "dist", "packages"), ...(formats ? { formats } : {}) });
  for (const file of report.files) console.log(file);
  if (report.arm64?.skipped) console.log(`arm64 .deb: not built — ${report.arm64.skipped}`);
  else if (report.arm64) {
    console.log(`arm64 .deb: ${report.arm64.source}`);
    if (!report.arm64.pkcs11) console.log("arm64: no PKCS#11 binding: the package drives keys through SKF libraries only (install g++-aarch64-linux-gnu: scripts/setup-system.sh).");
  }
  if (report.windows) {
    console.log(`Windows installer: ${report.windows.source}`);
    if (!report.windows.pkcs11) console.log("Windows: no PKCS#11 binding (pkcs11js has no Windows binary on the npm registry): the installer drives keys through SKF libraries only; the release workflow builds pkcs11js on Windows (YZT_WINDOWS_PAYLOAD).");
  }
  if (!report.xpiSigned) console.log("Firefox: the .xpi is unsigned (set YZT_SIGNED_XPI to a Mozilla-signed build); Firefox will not install it from the package.");
}
