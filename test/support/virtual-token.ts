/**
 * Per-test-file copies of the virtual token provisioned by global-setup.ts. Copying a provisioned
 * SoftHSM token directory takes milliseconds, provisioning takes seconds; paths inside the copy's
 * config and manifest are rewritten to the new home.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { VtokenManifest } from "../virtual-token/manifest.js";
import { unlockToken } from "../virtual-token/state.js";

export interface VirtualToken {
  home: string;
  module: string;
  manifest: VtokenManifest;
  /** Environment for processes that load the shim. */
  env: Record<string, string>;
  /** SO login + C_InitPIN: what a service point does to a locked key. Resets the PIN to the user PIN. */
  unlock(alias: string): void;
  dispose(): void;
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
  return {
    home,
    module: manifest.module,
    manifest,
    env,
    unlock: (alias) => unlockToken(home, alias),
    dispose() {
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export async function cloneVirtualToken(): Promise<VirtualToken> {
  return cloneVirtualTokenFrom(inject("vtokenTemplate"));
}
