/** The package version, read once from package.json next to the installed code. */
import { readFileSync } from "node:fs";

function readVersion(): string {
  for (const relative of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "yzt-bridge" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // try the next location: the bundle runs from dist/host/, compiled code from dist/native-host/support/
    }
  }
  return "0.0.0";
}

export const HOST_VERSION = readVersion();
