/**
 * Staging a package's file tree, and the part every package shares: the host payload — the bundled host
 * and CLI laid out as in a checkout (so packageRoot(), the version and `yzt install` work unchanged), the
 * Node runtime, the pkcs11js addon and koffi (the FFI the SKF backend loads vendor libraries with) beside them.
 */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { chromeExtensionIdFromKey, launcherScript } from "../../native-host/install/host-manifest.js";

/** A directory standing for the target machine's "/" (or the install folder); records what it writes. */
export class Stage {
  readonly files: string[] = [];
  constructor(readonly root: string) {}

  private place(path: string): string {
    const target = join(this.root, path);
    mkdirSync(dirname(target), { recursive: true });
    this.files.push(path);
    return target;
  }

  write(path: string, content: string | Buffer, mode = 0o644): void {
    const target = this.place(path);
    writeFileSync(target, content);
    chmodSync(target, mode);
  }

  copy(path: string, from: string, mode = 0o644): string {
    const target = this.place(path);
    copyFileSync(from, target);
    chmodSync(target, mode);
    return target;
  }

  link(path: string, to: string): void {
    symlinkSync(to, this.place(path));
  }
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** Every directory and file under `dir` gets the same time, mode 755 for directories: same inputs, same bytes. */
export function normalise(dir: string, epoch: number): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) {
      chmodSync(path, 0o755);
      normalise(path, epoch);
    }
    utimesSync(path, epoch, epoch);
  }
  utimesSync(dir, epoch, epoch);
}

/** The built Chrome manifest and the extension id its key gives. */
export function builtChromeManifest(root: string): { manifest: Record<string, unknown>; chromeId: string } {
  const manifest = JSON.parse(readFileSync(join(root, "dist", "extension-chrome", "manifest.json"), "utf8")) as Record<string, unknown>;
  if (typeof manifest.key !== "string") throw new Error("dist/extension-chrome/manifest.json has no key: the extension id would be random");
  return { manifest, chromeId: chromeExtensionIdFromKey(manifest.key) };
}

export interface HostPayloadInput {
  root: string;
  version: string;
  /** The Node runtime to ship and where it goes, relative to the payload directory ("bin/node", "node.exe"). */
  runtime: { from: string; to: string };
  /**
   * The pkcs11js addon binary (default: this checkout's build); null: the payload carries no PKCS#11 binding
   * (a Windows payload gathered without a Windows pkcs11js), and the host serves SKF keys only.
   */
  addonBinary?: string | null;
  /**
   * koffi's prebuilt binary packages for the target (node_modules/@koromix/koffi-<os>-<arch>): the host's, and
   * one per driver runtime of another architecture; default: this machine's.
   */
  koffiPlatforms?: string[];
  /** Node runtimes of other architectures for driver processes, relative to the payload directory ("runtime-ia32/node.exe"). */
  driverRuntimes?: Array<{ from: string; to: string }>;
  /**
   * Whether `runtime` is the Node that wrote dist/host's V8 code caches (this machine's): only then are they
   * shipped. Another runtime (another CPU, another OS) may not reject a foreign cache but crash on it: an
   * arm64 Node under qemu did.
   */
  runtimeWroteCodeCaches?: boolean;
}

/** The files of koffi's JavaScript side that its CommonJS entry loads (the C++ sources are not shipped). */
const KOFFI_FILES = ["package.json", "index.cjs", "LICENSE.txt", "src/koffi/index.cjs", "src/koffi/src/static.cjs"];

/** koffi, and its prebuilt binary packages for the target, under the payload's node_modules. */
function stageKoffi(stage: Stage, dir: string, root: string, platformPackages: string[] | undefined): void {
  const koffi = join(root, "node_modules", "koffi");
  for (const name of KOFFI_FILES) stage.copy(`${dir}/node_modules/koffi/${name}`, join(koffi, name));
  const copyTree = (from: string, to: string): void => {
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      // The packages target glibc systems: the musl build would only sit there unlinked against libc.
      if (entry.isDirectory() && entry.name.startsWith("musl_")) continue;
      if (entry.isDirectory()) copyTree(join(from, entry.name), `${to}/${entry.name}`);
      else stage.copy(`${to}/${entry.name}`, join(from, entry.name));
    }
  };
  for (const platform of platformPackages ?? [join(root, "node_modules", "@koromix", `koffi-${process.platform}-${process.arch}`)]) {
    // Placed under its package name (koffi looks for @koromix/koffi-<os>-<arch>), whatever its folder here is called.
    const name = (JSON.parse(readFileSync(join(platform, "package.json"), "utf8")) as { name: string }).name;
    if (!/^@koromix\/koffi-[a-z0-9]+-[a-z0-9]+$/.test(name)) throw new Error(`${platform} is not a koffi platform package (${name})`);
    copyTree(platform, `${dir}/node_modules/${name}`);
  }
}

/** Writes the host payload under `dir` of the stage; returns the staged paths of the binaries (addon: null when absent). */
export function stageHostPayload(stage: Stage, dir: string, input: HostPayloadInput): { runtime: string; addon: string | null } {
  stage.write(`${dir}/package.json`, json({ name: "yzt-bridge", version: input.version, private: true, type: "module" }));
  stage.write(`${dir}/manifest.json`, json(builtChromeManifest(input.root).manifest));
  const hostDir = join(input.root, "dist", "host");
  const codeCaches = input.runtimeWroteCodeCaches ?? true;
  for (const name of readdirSync(hostDir).sort()) {
    if (!codeCaches && name.endsWith(".v8-cache")) continue;
    stage.copy(`${dir}/dist/host/${name}`, join(hostDir, name));
  }
  stageKoffi(stage, dir, input.root, input.koffiPlatforms);
  for (const runtime of input.driverRuntimes ?? []) stage.copy(`${dir}/${runtime.to}`, runtime.from, 0o755);
  const addon = join(input.root, "node_modules", "pkcs11js");
  let stagedAddon: string | null = null;
  if (input.addonBinary !== null) {
    for (const name of ["package.json", "index.js", "LICENSE"]) stage.copy(`${dir}/node_modules/pkcs11js/${name}`, join(addon, name));
    stagedAddon = stage.copy(`${dir}/node_modules/pkcs11js/build/Release/pkcs11.node`, input.addonBinary ?? join(addon, "build", "Release", "pkcs11.node"));
  }
  return { addon: stagedAddon, runtime: stage.copy(`${dir}/${input.runtime.to}`, input.runtime.from, 0o755) };
}

/**
 * The two launchers of a Unix payload in `dir` (its runtime at bin/node): `yzt-host`, which browsers start,
 * and `bin/yzt`, the CLI. Returns the paths an install record names.
 */
export function stageUnixLaunchers(stage: Stage, dir: string): { node: string; entry: string; launcher: string; cli: string } {
  const node = `${dir}/bin/node`;
  const entry = `${dir}/dist/host/main.js`;
  const launcher = `${dir}/yzt-host`;
  const cli = `${dir}/bin/yzt`;
  stage.write(launcher, launcherScript({ node, entry }), 0o755);
  stage.write(cli, launcherScript({ node, entry: `${dir}/dist/host/yzt.js`, note: "yzt-bridge command line, on the package's own Node runtime" }), 0o755);
  return { node, entry, launcher, cli };
}
