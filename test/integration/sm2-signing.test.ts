/**
 * 国密 end to end through the native host: an SM2 dual-pair key (the shim's vendor mechanisms) signs raw
 * values, LoginTokens and CMS (both content-type profiles), detached and attached. Every signature is
 * checked by code that is not the project's: the OpenSSL 3 command line for raw SM2 (pkeyutl with SM3 and
 * the distinguishing ID) and SM3 digests, and the sm-crypto npm package for the SM2 signature inside CMS
 * (OpenSSL 3.0 cannot verify SM2 CMS). The project's own verifiers must agree, and refuse tampering.
 */
import { execFileSync } from "node:child_process";
import { createPublicKey, verify, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginMessage } from "../../protocol/login-token.js";
import type { LoginToken, YztCertificate } from "../../protocol/types.js";
import { verifyCmsSignature, verifyLoginToken } from "../../server/index.js";
import { derToRs, rsToDer } from "../../crypto/sm2.js";
import { HostProcess } from "../../scripts/host-process.js";
import { independentlyVerifiesSm2Cms, opensslVerifiesSm2 } from "../support/independent-verify.js";
import { insertToken, removeToken } from "../virtual-token/state.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const SM2_SERIAL = "YZT0000000000001"; // the default demo key is SM2, like a current 一证通

let vtoken: VirtualToken;
let host: HostProcess;
let work: string;
let signCert: YztCertificate;
let trustedRoots: string[];

function file(name: string, content: Uint8Array | string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

let certificatePem: string;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
    work = mkdtempSync(join(tmpdir(), "yzt-sm2-"));
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  const certificates = await host.request("listCertificates", { tokenSerial: SM2_SERIAL });
  signCert = certificates.find((c) => c.purpose === "sign")!;
  certificatePem = vtoken.manifest.tokens.find((t) => t.alias === "demo")!.certificates[0]!.pem;
  trustedRoots = [readFileSync(vtoken.manifest.pki.sm2Root, "utf8"), readFileSync(vtoken.manifest.pki.sm2Intermediate, "utf8")];
  await host.request("login", { certificateId: signCert.id, origin: ORIGIN, pin: vtoken.manifest.userPin });
}, 60_000);

afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("SM2 signing through the host", () => {
  it("lists the SM2 dual pair with algorithm SM2, company and credit code", async () => {
    const certificates = await host.request("listCertificates", { tokenSerial: SM2_SERIAL });
    expect(certificates.map((c) => [c.purpose, c.keyAlgorithm])).toEqual([["sign", "SM2"], ["encrypt", "SM2"]]);
    expect(signCert).toMatchObject({ holderName: "北京演示科技有限公司", keyUsage: ["digitalSignature", "nonRepudiation"] });
    expect(signCert.creditCode).toMatch(/^91110108MA01DEMX/);
  });

  it("signs raw data as r‖s over e = SM3(Z‖M) that OpenSSL verifies; tampered data or another ID fail", async () => {
    const data = Buffer.from("<申报表>增值税 国密</申报表>");
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: data.toString("base64") });
    const rs = Buffer.from(result.signature, "base64");
    expect(result.algorithm).toBe("SM3withSM2");
    expect(rs).toHaveLength(64);
    expect(opensslVerifiesSm2(certificatePem, data, rsToDer(rs))).toBe(true);
    expect(opensslVerifiesSm2(certificatePem, Buffer.from("<申报表>篡改</申报表>"), rsToDer(rs))).toBe(false);
    expect(opensslVerifiesSm2(certificatePem, data, rsToDer(rs), "ALICE123@YAHOO.COM")).toBe(false);
  });

  it("checks SM2 raw signatures in verifyRaw (XTX SOF_VerifySignedData), as r‖s or DER, and refuses tampered data", async () => {
    const data = Buffer.from("verify me");
    const { signature, certificate } = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: data.toString("base64") });
    const der = Buffer.from(rsToDer(Buffer.from(signature, "base64"))).toString("base64");
    for (const form of [signature, der]) {
      expect(await host.request("verifyRaw", { certificate, data: data.toString("base64"), signature: form })).toEqual({ valid: true });
      expect(await host.request("verifyRaw", { certificate, data: Buffer.from("verify mE").toString("base64"), signature: form })).toEqual({ valid: false });
    }
  });

  it("uses the signer ID the caller gives (sm2Id)", async () => {
    const data = Buffer.from("custom id");
    const id = "yzt-bridge@example.cn";
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: data.toString("base64"), sm2Id: id });
    const der = rsToDer(Buffer.from(result.signature, "base64"));
    expect(opensslVerifiesSm2(certificatePem, data, der, id)).toBe(true);
    expect(opensslVerifiesSm2(certificatePem, data, der)).toBe(false);
  });

  it("makes an SM2SM3 LoginToken that OpenSSL and verifyLoginToken accept, and refuses it for another origin", async () => {
    const challenge = "sm2-challenge-0123456789";
    const { loginToken } = await host.request("login", { certificateId: signCert.id, origin: ORIGIN, challenge, pin: vtoken.manifest.userPin });
    const token = loginToken as LoginToken;
    expect(token.algorithm).toBe("SM2SM3");
    expect(opensslVerifiesSm2(certificatePem, loginMessage(ORIGIN, challenge), rsToDer(Buffer.from(token.signature, "base64")))).toBe(true);
    expect(verifyLoginToken(token, { challenge, origin: ORIGIN, trustedRoots }).holderName).toBe("北京演示科技有限公司");
    expect(() => verifyLoginToken(token, { challenge, origin: "https://evil.example.cn", trustedRoots })).toThrow(/origin|made for/);
    const forged = { ...token, signature: Buffer.from(derToRs(rsToDer(Buffer.alloc(64, 7)))).toString("base64") };
    expect(() => verifyLoginToken(forged, { challenge, origin: ORIGIN, trustedRoots })).toThrow(/signature/);
  });

  for (const cmsProfile of ["pkcs7", "gm"] as const) {
    for (const format of ["pkcs7-detached", "pkcs7-attached"] as const) {
      it(`builds ${format} CMS (${cmsProfile} content types) with SM3 and SM2-with-SM3, checked independently`, async () => {
        const content = Buffer.from(`<申报表>${format} ${cmsProfile}</申报表>`.repeat(100));
        const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format, data: content.toString("base64"), cmsProfile });
        const signature = Buffer.from(result.signature, "base64");
        const contentInfo = pkijs.ContentInfo.fromBER(signature);
        expect(contentInfo.contentType).toBe(cmsProfile === "gm" ? "1.2.156.10197.6.1.4.2.2" : "1.2.840.113549.1.7.2");
        const signer = new pkijs.SignedData({ schema: contentInfo.content }).signerInfos[0]!;
        expect([signer.digestAlgorithm.algorithmId, signer.signatureAlgorithm.algorithmId]).toEqual(["1.2.156.10197.1.401", "1.2.156.10197.1.501"]);
        expect(independentlyVerifiesSm2Cms(signature, content)).toBe(true);
        expect(independentlyVerifiesSm2Cms(signature, Buffer.concat([content, Buffer.from("x")]))).toBe(false);
        const verified = await verifyCmsSignature(signature, { ...(format === "pkcs7-detached" ? { content } : {}), trustedRoots });
        expect(Buffer.from(verified.content).equals(content)).toBe(true);
        if (format === "pkcs7-detached") {
          await expect(verifyCmsSignature(signature, { content: Buffer.from("changed"), trustedRoots })).rejects.toThrow();
        } else {
          const tampered = Buffer.from(signature);
          tampered[Math.floor(tampered.length / 2)]! ^= 1; // inside the embedded content
          await expect(verifyCmsSignature(tampered, { trustedRoots })).rejects.toThrow();
        }
      });
    }
  }

  it("signs a precomputed SM3 digest for a detached CMS (hashAlgorithm SM3), and refuses SHA-256 for an SM2 key", async () => {
    const content = Buffer.from("large document, hashed elsewhere");
    const digest = execFileSync("openssl", ["dgst", "-sm3", "-binary", file("doc.bin", content)]);
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-detached", digest: digest.toString("base64"), hashAlgorithm: "SM3" });
    expect(independentlyVerifiesSm2Cms(Buffer.from(result.signature, "base64"), content)).toBe(true);
    await expect(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-detached", digest: digest.toString("base64"), hashAlgorithm: "SHA-256" }))
      .rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("handles a key holding an RSA and an SM2 signing pair: each certificate signs with its own algorithm", async () => {
    insertToken(vtoken.home, "mixed");
    await host.waitForEvent((e) => e.event === "tokeninserted" && e.data.tokenSerial === "YZT0000000000006");
    const certificates = await host.request("listCertificates", { tokenSerial: "YZT0000000000006" });
    expect(certificates.map((c) => [c.id, c.keyAlgorithm, c.purpose])).toEqual([
      [vtoken.certificateId("YZT0000000000006", "0101"), "RSA", "sign"], [vtoken.certificateId("YZT0000000000006", "0303"), "SM2", "sign"],
    ]);
    await host.request("login", { certificateId: vtoken.certificateId("YZT0000000000006", "0101"), origin: ORIGIN, pin: vtoken.manifest.userPin });
    const data = Buffer.from("同一把钥匙上的两种证书");
    const rsa = await host.request("sign", { certificateId: vtoken.certificateId("YZT0000000000006", "0101"), origin: ORIGIN, format: "raw", data: data.toString("base64") });
    const sm2 = await host.request("sign", { certificateId: vtoken.certificateId("YZT0000000000006", "0303"), origin: ORIGIN, format: "raw", data: data.toString("base64") });
    expect([rsa.algorithm, sm2.algorithm]).toEqual(["sha256WithRSAEncryption", "SM3withSM2"]);
    const rsaKey = createPublicKey(new X509Certificate(Buffer.from(rsa.certificate, "base64")).publicKey.export({ type: "spki", format: "pem" }));
    expect(verify("sha256", data, rsaKey, Buffer.from(rsa.signature, "base64"))).toBe(true);
    expect(opensslVerifiesSm2(Buffer.from(sm2.certificate, "base64"), data, rsToDer(Buffer.from(sm2.signature, "base64")))).toBe(true);
    removeToken(vtoken.home, "mixed");
  });
});
