/**
 * The SKF backend where it differs from PKCS#11: a key both backends reach is listed once; a library that is
 * not an SKF library, or that answers garbage lengths, is named with what is wrong in diagnose and never
 * stops the host serving the keys of its other libraries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostProcess } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { buildSkf } from "../virtual-token/build.js";
import { loadSkfBinding } from "../../native-host/token/skf/binding.js";
import { smCryptoVerifiesSm2Raw } from "../support/independent-verify.js";

const DEMO_SERIAL = "YZT0000000000001";
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";

let vtoken: VirtualToken;
const hosts: HostProcess[] = [];

/** A host with an SKF library and the PKCS#11 shim over the same virtual keys, from the environment only. */
function hostWith(skfLibrary: string): HostProcess {
  const host = HostProcess.start({ env: { ...vtoken.env, YZT_SKF_MODULE: skfLibrary, YZT_PKCS11_MODULE: vtoken.module } });
  hosts.push(host);
  return host;
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
});

afterAll(async () => {
  for (const host of hosts) await host.close();
  vtoken?.dispose();
});

describe("a key reachable through an SKF library and a PKCS#11 module", () => {
  it("is listed once, served through SKF with the same certificate ids, and signs there", async () => {
    const host = hostWith(vtoken.manifest.skfModule);
    const tokens = (await host.request("listTokens", {})).filter((token) => token.serial === DEMO_SERIAL);
    expect(tokens).toHaveLength(1);
    const report = await host.request("diagnose", {});
    const servedBy = report.checks.find((check) => check.id === "token")!.detail!.servedBy as Record<string, { kind: string; path: string }>;
    expect(servedBy[DEMO_SERIAL]).toEqual({ kind: "skf", path: vtoken.manifest.skfModule });
    const certificates = (await host.request("listCertificates", {})).filter((certificate) => certificate.tokenSerial === DEMO_SERIAL);
    expect(certificates.map((certificate) => [certificate.id, certificate.purpose])).toEqual([[`${DEMO_SERIAL}:0101`, "sign"], [`${DEMO_SERIAL}:0202`, "encrypt"]]);
    await host.request("login", { certificateId: `${DEMO_SERIAL}:0101`, origin: ORIGIN, pin: vtoken.manifest.userPin });
    const signed = await host.request("sign", { certificateId: `${DEMO_SERIAL}:0101`, origin: ORIGIN, format: "raw", data: Buffer.from("once").toString("base64") });
    expect(Buffer.from(signed.signature, "base64")).toHaveLength(64);
  });
});

describe("broken SKF libraries", () => {
  it("names a library without SKF_ECCSignData in diagnose and keeps serving the PKCS#11 keys", async () => {
    const broken = buildSkf(vtoken.home, "missing-export");
    const host = hostWith(broken);
    const report = await host.request("diagnose", {});
    const skfCheck = report.checks.find((check) => check.id === "module" && check.detail?.path === broken);
    expect(skfCheck).toMatchObject({ status: "error" });
    expect(skfCheck!.message).toContain(broken);
    expect(skfCheck!.message).toContain("SKF_ECCSignData");
    expect((await host.request("hello", {})).modules).toEqual([vtoken.module]);
    const certificates = await host.request("listCertificates", { purpose: "sign" });
    expect(certificates.map((certificate) => certificate.id)).toContain(`${DEMO_SERIAL}:0101`);
  });

  it("refuses garbage lengths with a diagnosis naming the call, without crashing, and keeps serving the PKCS#11 keys", async () => {
    const garbage = buildSkf(vtoken.home, "garbage-lengths");
    const host = hostWith(garbage);
    const certificates = await host.request("listCertificates", { purpose: "sign" });
    expect(certificates.map((certificate) => certificate.id)).toContain(`${DEMO_SERIAL}:0101`);
    const report = await host.request("diagnose", {});
    const skfCheck = report.checks.find((check) => check.id === "module" && check.detail?.path === garbage);
    expect(skfCheck).toMatchObject({ status: "error" });
    expect(skfCheck!.message).toMatch(/SKF_EnumDev .*impossible length/);
    // Still answering, and the host process is alive.
    expect((await host.request("hello", {})).protocol).toBe(1);
  });

  it("names a file that is no library at all", async () => {
    const host = hostWith(vtoken.manifest.pki.chain);
    const report = await host.request("diagnose", {});
    const skfCheck = report.checks.find((check) => check.id === "module" && check.detail?.path === vtoken.manifest.pki.chain);
    expect(skfCheck).toMatchObject({ status: "error" });
    expect(skfCheck!.message).toContain("cannot load the SKF library");
    expect((await host.request("listTokens", {})).some((token) => token.serial === DEMO_SERIAL && token.present)).toBe(true);
  });
});

describe("the two SKF ABIs", () => {
  it("binds GM/T 0016's 32-bit ULONG and an LP64 build's 64-bit ULONG, each with its layouts, and says which", () => {
    const standard = loadSkfBinding(vtoken.manifest.skfModule);
    const wide = loadSkfBinding(buildSkf(vtoken.home, "lp64"));
    try {
      expect(standard.ulongBytes).toBe(4);
      expect(wide.ulongBytes).toBe(8);
    } finally {
      standard.close();
      wide.close();
    }
  });

  it("serves the keys of an LP64 library: listed, logged in, an SM2 signature that verifies", async () => {
    const host = hostWith(buildSkf(vtoken.home, "lp64"));
    const certificateId = `${DEMO_SERIAL}:0101`;
    await host.request("login", { certificateId, origin: ORIGIN, pin: vtoken.manifest.userPin });
    const message = Buffer.from("lp64");
    const signed = await host.request("sign", { certificateId, origin: ORIGIN, format: "raw", data: message.toString("base64") });
    const rs = Buffer.from(signed.signature, "base64");
    const certificate = Buffer.from(signed.certificate, "base64");
    expect(smCryptoVerifiesSm2Raw(certificate, message, rs)).toBe(true);
    rs[10] ^= 1;
    expect(smCryptoVerifiesSm2Raw(certificate, message, rs)).toBe(false);
    const report = await host.request("diagnose", {});
    const servedBy = report.checks.find((check) => check.id === "token")!.detail!.servedBy as Record<string, { kind: string }>;
    expect(servedBy[DEMO_SERIAL]).toMatchObject({ kind: "skf" });
  });
});
