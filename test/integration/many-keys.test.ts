/**
 * An accounting agency's hub: 20 office keys (one company each, SM2 and RSA) and the demo key, inserted
 * together. The host lists every key and certificate; pulling one key ends that key's sessions only; the
 * CLI lists every company.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostProcess, REPO_ROOT } from "../../scripts/host-process.js";
import { hostLibraryOf, libraryFlag } from "../virtual-token/backend.js";
import type { VtokenManifest } from "../virtual-token/manifest.js";
import { provision, USER_PIN } from "../virtual-token/provision.js";
import { insertToken, removeToken } from "../virtual-token/state.js";

const OFFICE_KEYS = 20;
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";

let home: string;
let manifest: VtokenManifest;
let host: HostProcess;
let env: Record<string, string>;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "yzt-hub-"));
  manifest = await provision(home, { keys: OFFICE_KEYS });
  env = { YZT_VTOKEN_HOME: home, YZT_CA_CERTIFICATES: manifest.pki.chain };
  host = HostProcess.start({ library: hostLibraryOf(manifest), env });
}, 120_000);

afterAll(async () => {
  await host?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

const serialOf = (alias: string) => manifest.tokens.find((token) => token.alias === alias)!.serial;

describe(`an office hub of ${OFFICE_KEYS} keys`, () => {
  it("lists every key and every certificate, each office key its own company, SM2 and RSA alike", async () => {
    const tokens = (await host.request("listTokens", {})).filter((token) => token.present);
    expect(tokens).toHaveLength(OFFICE_KEYS + 1);
    const certificates = await host.request("listCertificates", { purpose: "sign" });
    const office = certificates.filter((certificate) => certificate.tokenSerial.startsWith("YZT1"));
    expect(office).toHaveLength(OFFICE_KEYS);
    expect(new Set(office.map((certificate) => certificate.holderName)).size).toBe(OFFICE_KEYS);
    expect(new Set(office.map((certificate) => certificate.creditCode)).size).toBe(OFFICE_KEYS);
    expect(new Set(office.map((certificate) => certificate.keyAlgorithm))).toEqual(new Set(["SM2", "RSA"]));
  });

  it("pulling one key ends that key's sessions only", async () => {
    const certificates = await host.request("listCertificates", { purpose: "sign" });
    const idOf = (alias: string) => certificates.find((certificate) => certificate.tokenSerial === serialOf(alias))!.id;
    for (const alias of ["office01", "office02"]) {
      await host.request("login", { certificateId: idOf(alias), origin: ORIGIN, pin: USER_PIN, challenge: `hub-challenge-${alias}-0123456789` });
    }
    const active = async (alias: string) => (await host.request("sessionStatus", { origin: ORIGIN, tokenSerial: serialOf(alias) })).active;
    expect([await active("office01"), await active("office02")]).toEqual([true, true]);
    removeToken(home, "office01");
    await host.waitForEvent((event) => event.event === "tokenremoved" && event.data.tokenSerial === serialOf("office01"), 5000);
    expect([await active("office01"), await active("office02")]).toEqual([false, true]);
    // Signing with the key still inserted needs no PIN: its session survived.
    const signed = await host.request("sign", { certificateId: idOf("office02"), origin: ORIGIN, format: "raw", data: Buffer.from("hub").toString("base64") });
    expect(signed.signature.length).toBeGreaterThan(0);
    insertToken(home, "office01");
    await host.waitForEvent((event) => event.event === "tokeninserted" && event.data.tokenSerial === serialOf("office01"), 5000);
  });

  it("yzt certs lists every company of the hub", () => {
    const run = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "yzt.js"), "certs", libraryFlag(hostLibraryOf(manifest)), hostLibraryOf(manifest).path], { env: { ...process.env, ...env }, encoding: "utf8" });
    expect(run.status).toBe(0);
    for (const token of manifest.tokens.filter((t) => t.alias.startsWith("office"))) expect(run.stdout).toContain(token.company);
  });
});
