/**
 * Benchmark rows for the installers: the .deb and .rpm built from the current build (their sizes and the
 * time to build both), the size of what they install, and the packaged host's cold start — the /opt tree
 * staged exactly as the .deb installs it, started with its own runtime — so it can be set against a bare
 * Node process.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../native-host/install/paths.js";
import { buildPackages, packageVersion } from "./package.js";
import { INSTALL_DIR, installedSizeKiB, stageLinuxTree } from "./packaging/linux-tree.js";
import { gatherLinuxPayload } from "./packaging/linux-payload.js";

export interface PackageStats<T> {
  sizes: Array<{ name: string; bytes: number }>;
  installedBytes: number;
  buildMs: number;
  coldStartMs: T;
}

export async function measurePackages<T>(dir: string, coldStart: (runtime: string, entry: string) => Promise<T>): Promise<PackageStats<T>> {
  const started = performance.now();
  buildPackages({ outDir: join(dir, "out"), formats: ["deb", "rpm"] });
  const buildMs = performance.now() - started;
  const sizes = readdirSync(join(dir, "out"))
    .filter((name) => /\.(deb|rpm)$/.test(name))
    .map((name) => ({ name, bytes: statSync(join(dir, "out", name)).size }));
  const root = packageRoot();
  const stage = join(dir, "stage");
  const tree = stageLinuxTree({ root, stage, version: packageVersion(root), format: "deb", payload: gatherLinuxPayload(root, "amd64"), crx: Buffer.alloc(0), xpi: Buffer.alloc(0), xpiSigned: false, sourceDateEpoch: 0 });
  const opt = join(stage, INSTALL_DIR);
  return {
    sizes,
    installedBytes: installedSizeKiB(stage, tree.files) * 1024,
    buildMs,
    coldStartMs: await coldStart(join(opt, "bin", "node"), join(opt, "dist", "host", "main.js")),
  };
}
