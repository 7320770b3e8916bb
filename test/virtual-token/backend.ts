/**
 * Which face of the virtual keys the host drives: the PKCS#11 shim or the SKF library built over it (the
 * same keys, PIN counters and removal state). Suites that must hold on both backends read the choice from
 * YZT_TEST_BACKEND (vitest runs them once per backend, see vitest.config.ts); the demo and the bench take it
 * from their own flags. One description of the host's library, turned into the flag or variable it needs.
 */
import { skfKeyId } from "../../native-host/token/skf/device.js";
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

/**
 * The id a virtual key's certificate has on a backend. PKCS#11: `serial:CKA_ID`. SKF: the container the
 * virtual SKF key (skf.c) puts it in — "<algorithm>-<CKA_ID of the signing certificate>" — in the host's SKF
 * id form (skfKeyId), so one test names the same certificate on both backends.
 */
export function certificateIdOn(manifest: Pick<VtokenManifest, "tokens">, backend: KeyBackend, serial: string, ckaId: string): string {
  if (backend === "pkcs11") return `${serial}:${ckaId}`;
  const token = manifest.tokens.find((candidate) => candidate.serial === serial);
  const certificate = token?.certificates.find((candidate) => candidate.ckaId === ckaId);
  if (!token || !certificate) throw new Error(`no certificate ${ckaId} on virtual key ${serial}`);
  const sign = certificate.purpose === "sign";
  const signing = token.certificates.find((candidate) => candidate.purpose === "sign" && candidate.keyAlgorithm === certificate.keyAlgorithm);
  const container = `${certificate.keyAlgorithm}-${sign ? ckaId : (signing?.ckaId ?? ckaId)}`;
  return `${serial}:${skfKeyId(container, sign)}`;
}
