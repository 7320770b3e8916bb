/**
 * Which face of the virtual keys the host drives: the PKCS#11 shim or the SKF library built over it (the
 * same keys, PIN counters and removal state). Suites that must hold on both backends read the choice from
 * YZT_TEST_BACKEND (vitest runs them once per backend, see vitest.config.ts); the demo and the bench take it
 * from their own flags. One description of the host's library, turned into the flag or variable it needs.
 */
import type { VtokenManifest } from "./manifest.js";

export type KeyBackend = "pkcs11" | "skf";

export interface HostLibrary {
  kind: KeyBackend;
  path: string;
}

export function testBackend(env: NodeJS.ProcessEnv = process.env): KeyBackend {
  const chosen = env.YZT_TEST_BACKEND ?? "pkcs11";
  if (chosen !== "pkcs11" && chosen !== "skf") throw new Error(`YZT_TEST_BACKEND must be pkcs11 or skf, not ${chosen}`);
  return chosen;
}

export function hostLibraryOf(manifest: Pick<VtokenManifest, "module" | "skfModule">, backend: KeyBackend = testBackend()): HostLibrary {
  return backend === "skf" ? { kind: "skf", path: manifest.skfModule } : { kind: "pkcs11", path: manifest.module };
}

/** The host's and the CLI's flag for the library. */
export function libraryFlag(library: HostLibrary): "--module" | "--skf-module" {
  return library.kind === "skf" ? "--skf-module" : "--module";
}

/** The environment variable a browser-started host reads the library from. */
export function libraryEnv(library: HostLibrary): Record<string, string> {
  return library.kind === "skf" ? { YZT_SKF_MODULE: library.path } : { YZT_PKCS11_MODULE: library.path };
}
