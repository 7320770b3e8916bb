/**
 * PKCS#11 module discovery, in DESIGN.md order: explicit (--module / YZT_PKCS11_MODULE), the user config
 * file, p11-kit registered modules, then known vendor library names for this OS. Pure apart from the
 * injected file-system probe, so the order is testable anywhere.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

export type ModuleSource = "explicit" | "config" | "p11-kit" | "known";

export interface ModuleCandidate {
  path: string;
  source: ModuleSource;
}

export interface FileProbe {
  exists(path: string): boolean;
  listDir(path: string): string[];
  readText(path: string): string;
  /**
   * What makes two paths the same library: the real path's content digest, so that a symlink (Debian's
   * pkcs11/opensc-pkcs11.so) and a copy a vendor installer dropped elsewhere count once. The path itself
   * when the file cannot be read.
   */
  identity(path: string): string;
}

export const realFiles: FileProbe = {
  exists: (path) => existsSync(path),
  listDir: (path) => {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  readText: (path) => readFileSync(path, "utf8"),
  identity: (path) => {
    try {
      return `sha256:${createHash("sha256").update(readFileSync(realpathSync(path))).digest("hex")}`;
    } catch {
      return `path:${path}`;
    }
  },
};

const P11KIT_MODULE_DIRS = ["/usr/share/p11-kit/modules", "/etc/pkcs11/modules"];
const P11KIT_LIB_DIRS = ["/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/aarch64-linux-gnu/pkcs11", "/usr/lib/pkcs11"];
/** p11-kit also registers modules that hold no keys (trust anchors, keyrings): not useful for signing. */
const P11KIT_SKIP = /p11-kit-trust|gnome-keyring|p11-kit-client/;

/**
 * Library names of common token middleware. Chinese tax keys come from a handful of vendors whose
 * middleware installs a PKCS#11 library next to its CSP; OpenSC and SoftHSM2 cover generic cards and tests.
 * Vendors' SKF libraries (libes_3000gm.so, mtoken_gm3000.dll) are not PKCS#11: usb-key-models.ts lists them.
 */
const KNOWN_LIBRARIES: Record<string, string[]> = {
  linux: [
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/libgm3000_pkcs11.so",
    "/usr/lib/libshuttle_p11v220.so",
    "/usr/lib/libcastle.so.1.0.0",
    "/opt/apps/bjca/lib/libbjcapkcs11.so",
  ],
  darwin: [
    "/Library/OpenSC/lib/opensc-pkcs11.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    "/usr/local/lib/libcastle.1.0.0.dylib",
  ],
  win32: [
    "C:\\Windows\\System32\\opensc-pkcs11.dll",
    "C:\\Windows\\System32\\eps2003csp11.dll",
    "C:\\Windows\\System32\\ShuttleCsp11_3003.dll",
    "C:\\Windows\\System32\\gm3000_pkcs11.dll",
    "C:\\SoftHSM2\\lib\\softhsm2-x64.dll",
  ],
};

export interface DiscoveryInput {
  explicit?: string[];
  configModules?: string[];
  platform?: NodeJS.Platform;
  files?: FileProbe;
}

/** Reads the `module:` line of p11-kit registration files; relative names live in the p11-kit lib dir. */
export function p11KitModules(files: FileProbe): string[] {
  const found: string[] = [];
  for (const dir of P11KIT_MODULE_DIRS) {
    for (const entry of files.listDir(dir).filter((name) => name.endsWith(".module")).sort()) {
      let text: string;
      try {
        text = files.readText(join(dir, entry));
      } catch {
        continue;
      }
      const line = /^\s*module\s*:\s*(\S+)\s*$/m.exec(text);
      if (!line?.[1] || P11KIT_SKIP.test(line[1]) || /^\s*disable-in\s*:/m.test(text)) continue;
      const name = line[1];
      const path = isAbsolute(name) ? name : P11KIT_LIB_DIRS.map((lib) => join(lib, name)).find((p) => files.exists(p));
      if (path) found.push(path);
    }
  }
  return found;
}

/**
 * Candidates in priority order. An explicit module replaces discovery entirely (tests, the demo, a user
 * who knows better); otherwise every existing library from the other sources is offered once: the same
 * library under two paths would list every key and certificate twice.
 */
export function discoverModules(input: DiscoveryInput): ModuleCandidate[] {
  const files = input.files ?? realFiles;
  if (input.explicit && input.explicit.length > 0) {
    return input.explicit.map((path) => ({ path, source: "explicit" as const }));
  }
  const ordered: ModuleCandidate[] = [
    ...(input.configModules ?? []).map((path) => ({ path, source: "config" as const })),
    ...p11KitModules(files).map((path) => ({ path, source: "p11-kit" as const })),
    ...(KNOWN_LIBRARIES[input.platform ?? process.platform] ?? []).map((path) => ({ path, source: "known" as const })),
  ];
  const seen = new Set<string>();
  return ordered.filter((candidate) => {
    if (candidate.source !== "config" && !files.exists(candidate.path)) return false;
    const identity = files.identity(candidate.path);
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  });
}

/** `YZT_PKCS11_MODULE` may hold several paths separated like PATH. */
export function explicitModulesFrom(cliModules: string[], env: NodeJS.ProcessEnv): string[] {
  return explicitPaths(cliModules, env.YZT_PKCS11_MODULE);
}

/** Paths given on the command line win; else an environment variable's list, separated like PATH. */
export function explicitPaths(cliPaths: string[], envList: string | undefined): string[] {
  if (cliPaths.length > 0) return cliPaths;
  return (envList ?? "").split(delimiter).filter((p) => p.length > 0);
}
