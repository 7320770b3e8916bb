/**
 * `npm start` headless, as the README promises: the demo logs in, signs a declaration, renews the expiring
 * key's certificate on the demo issuer site, logs in with the renewed certificate, unlocks the key after its
 * PIN was locked, and leaves screenshots.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

let vtoken: VirtualToken;
let out: string;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  out = mkdtempSync(join(tmpdir(), "yzt-demo-"));
});
afterAll(() => {
  vtoken?.dispose();
  rmSync(out, { recursive: true, force: true });
});

describe("npm start (headless demo)", () => {
  for (const browser of ["chromium", "firefox"]) {
    it(`logs in, submits a signed declaration, renews and unlocks on the issuer site in ${browser}`, () => {
      const env = { ...process.env, YZT_VTOKEN_HOME: vtoken.home, YZT_DEMO_DIR: join(out, browser), DISPLAY: "" };
      delete (env as Record<string, unknown>).YZT_PKCS11_MODULE;
      delete (env as Record<string, unknown>).YZT_SKF_MODULE;
      const run = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "scripts", "demo.js"), "--browser", browser, "--backend", vtoken.backend, "--exit"], { env, encoding: "utf8", timeout: 150_000 });
      expect(run.status, run.stderr + run.stdout).toBe(0);
      expect(run.stdout).toContain(`virtual key through ${vtoken.backend === "skf" ? "SKF (GM/T 0016)" : "PKCS#11"}: ${vtoken.library.path}`);
      // Under the tax-hall name: port 443 of its own loopback address (8443 where 443 may not be bound).
      expect(run.stdout).toMatch(/demo tax hall: https:\/\/etax\.beijing\.chinatax\.gov\.cn(:\d+)?\/ /);
      expect(run.stdout).toContain("logged in");
      expect(run.stdout).toContain("declaration signed and verified");
      expect(run.stdout).toMatch(/demo issuer site \(renewal, unlock\): https:\/\/yzt\.beijing\.gov\.cn(:\d+)?\//);
      // Four writes, a consent window each: new pair, signing certificate, encryption pair, old container gone.
      expect(run.stdout).toContain("renewed (4 consent windows)");
      expect(run.stdout).toContain("logged in with the renewed certificate");
      expect(run.stdout).toContain("unlocked");
      for (const shot of ["logged-in.png", "declared.png", "consent.png", "renewed.png", "renewed-login.png", "unlocked.png"]) {
        expect(readFileSync(join(out, browser, shot)).subarray(1, 4).toString()).toBe("PNG");
      }
    }, 180_000);
  }
});
