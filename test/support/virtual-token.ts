/**
 * Per-test-file copies of the virtual token provisioned by global-setup.ts. Copying a provisioned
 * SoftHSM token directory takes milliseconds, provisioning takes seconds; paths inside the copy's
 * config and manifest are rewritten to the new home.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { hostLibraryOf, libraryEnv, testBackend, type HostLibrary, type KeyBackend } from "../virtual-token/backend.js";
import type { VtokenManifest } from "../virtual-token/manifest.js";
import { unlockToken } from "../virtual-token/state.js";
import { buildSkf, type SkfVariant } from "../virtual-token/build.js";

export interface VirtualToken {
  home: string;
  /** The PKCS#11 shim (tests that talk PKCS#11 to the keys directly use it whatever the backend). */
  module: string;
  manifest: VtokenManifest;
  /** Environment for processes that load the shim. */
  env: Record<string, string>;
  /** The backend this run drives the keys through (YZT_TEST_BACKEND), and the library the host loads for it. */
  backend: KeyBackend;
  library: HostLibrary;
  /** `env` plus the variable that points a browser-started host at `library`. */
  hostEnv: Record<string, string>;
  /**
   * A certificate's id, named by key serial and CKA_ID: the same on both backends, as the SKF adapter numbers
   * a key's pairs by container (skfKeyId) the way the virtual token numbers their CKA_IDs.
   */
  certificateId(serial: string, ckaId: string): string;
  /** SO login + C_InitPIN: what a service point does to a locked key. Resets the PIN to the user PIN. */
  unlock(alias: string): void;
  dispose(): void;
}

/**
 * YZT_TEST_SKF_VARIANT (vitest's skf-lp64 project) puts another build of the SKF library in the home and
 * drives the keys through it: the same suites then prove a library whose ULONG is 64 bits.
 */
function withSkfVariant(library: HostLibrary, home: string): HostLibrary {
  const variant = process.env.YZT_TEST_SKF_VARIANT as SkfVariant | undefined;
  return library.kind === "skf" && variant ? { kind: "skf", path: buildSkf(home, variant) } : library;
}

export function cloneVirtualTokenFrom(template: string): VirtualToken {
  const home = mkdtempSync(join(tmpdir(), "yzt-vtoken-"));
  cpSync(template, home, { recursive: true });
  for (const name of ["softhsm2.conf", "manifest.json"]) {
    const path = join(home, name);
    writeFileSync(path, readFileSync(path, "utf8").split(template).join(home));
  }
  const manifest = JSON.parse(readFileSync(join(home, "manifest.json"), "utf8")) as VtokenManifest;
  // The demo CA is what a site would trust; doctor/diagnose check chains against it.
  const env = { YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain };
  const library = withSkfVariant(hostLibraryOf(manifest), home);
  return {
    home,
    module: manifest.module,
    manifest,
    env,
    backend: testBackend(),
    library,
    hostEnv: { ...env, ...libraryEnv(library) },
    certificateId: (serial, ckaId) => `${serial}:${ckaId}`,
    unlock: (alias) => unlockToken(home, alias),
    dispose() {
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * A copy whose keys report other serials: a second vendor's keys beside the first, in another library file
 * (the shim finds its home beside itself when YZT_VTOKEN_HOME is not set, so each copy keeps its own keys).
 */
export async function cloneVirtualTokenRenamed(rename: (serial: string) => string): Promise<VirtualToken> {
  const clone = await cloneVirtualToken();
  const mapPath = join(clone.home, "serial-map");
  writeFileSync(mapPath, readFileSync(mapPath, "utf8").replace(/^(\S+) (\S+)$/gm, (_line, from: string, to: string) => `${from} ${rename(to)}`));
  for (const token of clone.manifest.tokens) {
    const from = join(clone.home, "state", token.serial);
    token.serial = rename(token.serial);
    if (existsSync(from)) renameSync(from, join(clone.home, "state", token.serial));
  }
  writeFileSync(join(clone.home, "manifest.json"), JSON.stringify(clone.manifest, null, 2));
  return clone;
}

export async function cloneVirtualToken(): Promise<VirtualToken> {
  return cloneVirtualTokenFrom(inject("vtokenTemplate"));
}
