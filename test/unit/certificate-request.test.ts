/**
 * PKCS#10 requests for certificate renewal (crypto/certificate-request.ts), checked both ways against OpenSSL:
 * what we build OpenSSL verifies (RSA with `req -verify`; SM2 with `req -verify -vfyopt distid:…` and with SM3 +
 * `pkeyutl -verify` over the CertificationRequestInfo), what OpenSSL builds we read and verify, and a tampered
 * or wrongly signed request is refused.
 */
import { sign as nodeSign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCertificateRequest, readCertificateRequest } from "../../crypto/certificate-request.js";
import { derElement, expectTag, readTlv } from "../../protocol/der.js";
import { YztError } from "../../protocol/errors.js";
import { toPem } from "../virtual-token/pem.js";
import { openssl, rsaTestKey, Scratch, sm2Signer, sm2TestKey, type RsaTestKey, type Sm2TestKey, expectBadRequest } from "./renewal-fixtures.js";

const COMPANY = "北京某某科技有限公司";
const DN = `CN=${COMPANY},O=${COMPANY},ST=北京市,C=CN,serialNumber=91110108MA01DEMX0U`;

let scratch: Scratch;
let sm2: Sm2TestKey;
let rsa: RsaTestKey;

beforeAll(() => {
  scratch = new Scratch();
  sm2 = sm2TestKey();
  rsa = rsaTestKey();
});
afterAll(() => scratch.remove());

const rsaSigner = (key: RsaTestKey) => async (info: Uint8Array) => new Uint8Array(nodeSign("sha256", info, key.privateKey));

/** The request's three parts: the signed CertificationRequestInfo, and the signature value. */
function requestParts(der: Uint8Array): { info: Uint8Array; signature: Uint8Array } {
  const outer = readTlv(der, 0);
  const info = readTlv(der, outer.start);
  const algorithm = readTlv(der, info.end);
  const signature = expectTag(readTlv(der, algorithm.end), 0x03, "BIT STRING");
  return { info: der.subarray(info.at, info.end), signature: der.subarray(signature.start + 1, signature.end) };
}


describe("an SM2 request signed on the key", () => {
  let request: Uint8Array;
  beforeAll(async () => {
    request = await buildCertificateRequest({ subject: DN, publicKey: sm2.spki, sign: sm2Signer(sm2) });
  });

  it("reads back with its subject, key and algorithm, the signature verified", () => {
    const read = readCertificateRequest(request);
    expect(read.keyAlgorithm).toBe("SM2");
    expect(read.subject).toEqual({ CN: COMPANY, O: COMPANY, ST: "北京市", C: "CN", serialNumber: "91110108MA01DEMX0U" });
    expect(Buffer.from(read.publicKey).equals(Buffer.from(sm2.spki))).toBe(true);
  });

  it("is signed sm2sign-with-sm3 and verified by OpenSSL's req -verify with the default ID (and not without it)", () => {
    const file = scratch.file("sm2.csr", toPem("CERTIFICATE REQUEST", request));
    const text = openssl(["req", "-in", file, "-noout", "-text"]);
    expect(text.output).toContain("Signature Algorithm: SM2-with-SM3");
    expect(openssl(["req", "-in", file, "-noout", "-verify", "-vfyopt", "distid:1234567812345678"]).output).toContain("verify OK");
    // OpenSSL 3.0's req uses an empty ID unless told: the check above means something only if this one fails
    // (it says so on its output; its exit status is 0 either way).
    expect(openssl(["req", "-in", file, "-noout", "-verify"]).output).toContain("verify failure");
  });

  it("verifies with SM3 + pkeyutl over the CertificationRequestInfo bytes", () => {
    const { info, signature } = requestParts(request);
    const verify = (message: Uint8Array) => openssl([
      "pkeyutl", "-verify", "-pubin", "-inkey", scratch.file("sm2-pub.pem", sm2.publicPem), "-rawin", "-digest", "sm3",
      "-pkeyopt", "distid:1234567812345678", "-in", scratch.file("info.der", message), "-sigfile", scratch.file("sig.der", signature),
    ]);
    expect(verify(info).output).toContain("Signature Verified Successfully");
    const tampered = Uint8Array.from(info);
    tampered[tampered.length - 10]! ^= 1;
    expect(verify(tampered).ok).toBe(false);
  });

  it("is refused once a byte of the signed part changes", () => {
    const tampered = Uint8Array.from(request);
    const at = Buffer.from(tampered).indexOf(Buffer.from("北京市"));
    tampered[at + 2]! ^= 1;
    expectBadRequest(() => readCertificateRequest(tampered), /signature does not verify/);
  });

  it("is refused when the signature is changed, truncated or followed by bytes", () => {
    const badSignature = Uint8Array.from(request);
    badSignature[badSignature.length - 3]! ^= 1;
    expectBadRequest(() => readCertificateRequest(badSignature), /signature does not verify/);
    expectBadRequest(() => readCertificateRequest(request.subarray(0, request.length - 1)), /not a DER PKCS#10 request/);
    expectBadRequest(() => readCertificateRequest(Uint8Array.from([...request, 0])), /bytes after the request/);
  });
});

describe("building a request", () => {
  it("writes an SM2 key named by the SM2 OID itself (some vendors) unchanged and verifies it", async () => {
    const sm2Oid = Buffer.from("06082a811ccf5501822d", "hex");
    const vendorSpki = derElement(0x30, derElement(0x30, sm2Oid, sm2Oid), derElement(0x03, Uint8Array.of(0), sm2.point));
    const request = await buildCertificateRequest({ subject: "/C=CN/CN=张三", publicKey: vendorSpki, sign: sm2Signer(sm2) });
    const read = readCertificateRequest(request);
    expect(read.keyAlgorithm).toBe("SM2");
    expect(Buffer.from(read.publicKey).equals(Buffer.from(vendorSpki))).toBe(true);
  });

  it("refuses a signature made by another key pair", async () => {
    await expect(buildCertificateRequest({ subject: "CN=x", publicKey: sm2.spki, sign: sm2Signer(sm2TestKey()) })).rejects.toThrow(/does not verify with the request's public key/);
  });

  it("refuses an SM2 signature as raw r‖s instead of DER", async () => {
    const raw = async () => new Uint8Array(64).fill(1);
    await expect(buildCertificateRequest({ subject: "CN=x", publicKey: sm2.spki, sign: raw })).rejects.toThrow(/not a DER signature value/);
  });

  it("refuses a bad DN or a key it cannot sign for before asking the key to sign", async () => {
    let asked = false;
    const sign = async () => ((asked = true), new Uint8Array(0));
    await expect(buildCertificateRequest({ subject: "CN=x,XYZ=1", publicKey: sm2.spki, sign })).rejects.toThrow(/unknown attribute "XYZ"/);
    const p256 = Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"));
    await expect(buildCertificateRequest({ subject: "CN=x", publicKey: Uint8Array.from([...p256, ...sm2.point]), sign })).rejects.toThrow(/1.2.840.10045.3.1.7 is not supported/);
    const offCurve = Uint8Array.from(sm2.spki);
    offCurve[offCurve.length - 1]! ^= 1;
    await expect(buildCertificateRequest({ subject: "CN=x", publicKey: offCurve, sign })).rejects.toThrow(/not a point/);
    expect(asked).toBe(false);
  });
});

describe("an RSA-2048 request", () => {
  it("is signed sha256WithRSAEncryption and verified by OpenSSL's req -verify", async () => {
    const request = await buildCertificateRequest({ subject: DN, publicKey: rsa.spki, sign: rsaSigner(rsa) });
    const file = scratch.file("rsa.csr", toPem("CERTIFICATE REQUEST", request));
    expect(openssl(["req", "-in", file, "-noout", "-text"]).output).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(openssl(["req", "-in", file, "-noout", "-verify"]).output).toContain("verify OK");
    expect(readCertificateRequest(request)).toMatchObject({ keyAlgorithm: "RSA", subject: { CN: COMPANY, C: "CN" } });
    const tampered = Uint8Array.from(request);
    tampered[Buffer.from(tampered).indexOf(Buffer.from("北京市")) + 1]! ^= 1;
    expectBadRequest(() => readCertificateRequest(tampered), /signature does not verify/);
    expect(openssl(["req", "-in", scratch.file("rsa-bad.csr", toPem("CERTIFICATE REQUEST", tampered)), "-noout", "-verify"]).output).toContain("verify failure");
  });
});

describe("requests OpenSSL made", () => {
  it.each(["SM2", "RSA"] as const)("%s: are read and verified", (algorithm) => {
    const key = scratch.file(`${algorithm}.key`, algorithm === "SM2" ? sm2.privatePem : rsa.privatePem);
    const signing = algorithm === "SM2" ? ["-sm3", "-sigopt", "distid:1234567812345678"] : ["-sha256"];
    const out = scratch.file(`${algorithm}-openssl.csr`, "");
    expect(openssl(["req", "-new", "-utf8", "-key", key, ...signing, "-subj", `/C=CN/O=${COMPANY}/CN=张三`, "-outform", "DER", "-out", out]).ok).toBe(true);
    const read = readCertificateRequest(scratch.read(`${algorithm}-openssl.csr`));
    expect(read).toMatchObject({ keyAlgorithm: algorithm, subject: { C: "CN", O: COMPANY, CN: "张三" } });
  });
});
