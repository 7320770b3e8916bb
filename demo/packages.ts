/**
 * The downloads the environment page offers: whatever `npm run package` left in the packages directory,
 * each with its SHA-256 from SHA256SUMS and what it is for (OS, package kind). Only names of the shapes
 * the packager writes are served, so no other file of the directory can be fetched.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export type DownloadKind = "deb" | "deb-arm64" | "rpm" | "windows" | "macos" | "crx" | "zip" | "xpi";

export interface Download {
  name: string;
  kind: DownloadKind;
  size: number;
  sha256: string | null;
  version: string;
}

const SHAPES: Array<[RegExp, DownloadKind]> = [
  [/^yzt-bridge_(\d+\.\d+\.\d+)_amd64\.deb$/, "deb"],
  [/^yzt-bridge_(\d+\.\d+\.\d+)_arm64\.deb$/, "deb-arm64"],
  [/^yzt-bridge-(\d+\.\d+\.\d+)-1\.x86_64\.rpm$/, "rpm"],
  [/^yzt-bridge_(\d+\.\d+\.\d+)_setup\.exe$/, "windows"],
  [/^yzt-bridge-(\d+\.\d+\.\d+)\.pkg$/, "macos"],
  [/^yzt-bridge-chrome-(\d+\.\d+\.\d+)\.crx$/, "crx"],
  [/^yzt-bridge-chrome-(\d+\.\d+\.\d+)\.zip$/, "zip"],
  [/^yzt-bridge-firefox-(\d+\.\d+\.\d+)\.xpi$/, "xpi"],
];

export function classify(name: string): { kind: DownloadKind; version: string } | null {
  for (const [shape, kind] of SHAPES) {
    const match = shape.exec(name);
    if (match) return { kind, version: match[1]! };
  }
  return null;
}

function checksums(dir: string): Map<string, string> {
  const sums = new Map<string, string>();
  try {
    for (const line of readFileSync(join(dir, "SHA256SUMS"), "utf8").split("\n")) {
      const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      if (match) sums.set(match[2]!, match[1]!);
    }
  } catch {
    // no checksum file: downloads are listed without one
  }
  return sums;
}

export function listDownloads(dir: string): Download[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const sums = checksums(dir);
  return names.flatMap((name) => {
    const shape = classify(name);
    return shape ? [{ name, ...shape, size: statSync(join(dir, name)).size, sha256: sums.get(name) ?? null }] : [];
  });
}

/** The bytes of a listed download, or null for any other name. */
export function readDownload(dir: string, name: string): Buffer | null {
  if (!classify(name)) return null;
  try {
    return readFileSync(join(dir, name));
  } catch {
    return null;
  }
}
