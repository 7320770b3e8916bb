/**
 * 国密 end to end through the native host: an SM2 dual-pair key (the shim's vendor mechanisms) signs raw
 * values, LoginTokens and CMS (both content-type profiles), detached and attached. Every signature is
 * checked by code that is not the project's: the OpenSSL 3 command line for raw SM2 (pkeyutl with SM3 and
 * the distinguishing ID) and SM3 digests, and the sm-crypto npm package for the SM2 signature inside CMS
 * (OpenSSL 3.0 cannot verify SM2 CMS). The project's own verifiers must agree, and refuse tampering.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { sm2 as smCrypto } from "sm-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginMessage } from "../../protocol/login-token.js";
import type { LoginToken, YztCertificate } from "../../protocol/types.js";
import { verifyCmsSignature, verifyLoginToken } from "../../native-host/crypto/verify.js";
import { derToRs, rsToDer } from "../../native-host/crypto/sm2.js";
import { HostProcess } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken } from "../virtual-token/state.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const SM2_SERIAL = "YZT0000000000005";
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

let vtoken: VirtualToken;
let host: HostProcess;
let work: string;
let signCert: YztCertificate;
let publicKeyPem: string;
let trustedRoots: string[];

function file(name: string, content: Uint8Array | string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

/** OpenSSL 3: SM2 signature (DER) over message with SM3 and the given distinguishing ID. */
function opensslVerifies(message: Uint8Array, derSignature: Uint8Array, id = "1234567812345678"): boolean {
  try {
    const output = execFileSync("openssl", [
      "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", file("pub.pem", publicKeyPem),
      "-in", file("message.bin", message), "-sigfile", file("sig.der", derSignature), "-pkeyopt", `distid:${id}`,
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return output.includes("Signature Verified Successfully");
  } catch {
    return false;
  }
}

/** sm-crypto's SM2 public key: the uncompressed point in hex. */
function smCryptoKey(certificatePem: string): string {
  const der = Buffer.from(certificatePem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return hex(pkijs.Certificate.fromBER(der).subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
}

/** Checks a CMS SM2 signature independently: SM3 of the content by OpenSSL, SM2 over the attributes by sm-crypto. */
function independentlyVerifiesCms(signature: Uint8Array, content: Uint8Array): boolean {
  const signedData = new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(signature).content });
  const signer = signedData.signerInfos[0]!;
  const digestAttribute = signer.signedAttrs!.attributes.find((a) => a.type === "1.2.840.113549.1.9.4")!;
  const claimed = hex((digestAttribute.values[0] as asn1js.OctetString).valueBlock.valueHexView);
  const sm3 = execFileSync("openssl", ["dgst", "-sm3", "-r", file("content.bin", content)], { encoding: "utf8" }).split(" ")[0];
  if (claimed !== sm3) return false;
  const attributes = new Uint8Array(signer.signedAttrs!.encodedValue);
  attributes[0] = 0x31;
  const der = hex(signer.signature.valueBlock.valueHexView);
  return smCrypto.doVerifySignature(Array.from(attributes) as unknown as string, der, smCryptoKey(publicKeyPemCertificate()), { der: true, hash: true });
}

let certificatePem: string;
const publicKeyPemCertificate = () => certificatePem;

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  insertToken(vtoken.home, "sm2");
  work = mkdtempSync(join(tmpdir(), "yzt-sm2-"));
  host = HostProcess.start({ module: vtoken.module, env: vtoken.env });
  const certificates = await host.request("listCertificates", { tokenSerial: SM2_SERIAL });
  signCert = certificates.find((c) => c.purpose === "sign")!;
  certificatePem = vtoken.manifest.tokens.find((t) => t.alias === "sm2")!.certificates[0]!.pem;
  publicKeyPem = execFileSync("openssl", ["x509", "-pubkey", "-noout", "-in", file("cert.pem", certificatePem)], { encoding: "utf8" });
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
    expect(opensslVerifies(data, rsToDer(rs))).toBe(true);
    expect(opensslVerifies(Buffer.from("<申报表>篡改</申报表>"), rsToDer(rs))).toBe(false);
    expect(opensslVerifies(data, rsToDer(rs), "ALICE123@YAHOO.COM")).toBe(false);
  });

  it("uses the signer ID the caller gives (sm2Id)", async () => {
    const data = Buffer.from("custom id");
    const id = "yzt-bridge@example.cn";
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: data.toString("base64"), sm2Id: id });
    const der = rsToDer(Buffer.from(result.signature, "base64"));
    expect(opensslVerifies(data, der, id)).toBe(true);
    expect(opensslVerifies(data, der)).toBe(false);
  });

  it("makes an SM2SM3 LoginToken that OpenSSL and verifyLoginToken accept, and refuses it for another origin", async () => {
    const challenge = "sm2-challenge-0123456789";
    const { loginToken } = await host.request("login", { certificateId: signCert.id, origin: ORIGIN, challenge, pin: vtoken.manifest.userPin });
    const token = loginToken as LoginToken;
    expect(token.algorithm).toBe("SM2SM3");
    expect(opensslVerifies(loginMessage(ORIGIN, challenge), rsToDer(Buffer.from(token.signature, "base64")))).toBe(true);
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
        expect(independentlyVerifiesCms(signature, content)).toBe(true);
        expect(independentlyVerifiesCms(signature, Buffer.concat([content, Buffer.from("x")]))).toBe(false);
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
    expect(independentlyVerifiesCms(Buffer.from(result.signature, "base64"), content)).toBe(true);
    await expect(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-detached", digest: digest.toString("base64"), hashAlgorithm: "SHA-256" }))
      .rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});
