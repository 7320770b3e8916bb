/**
 * The software CA of the demo and the tests (crypto/certificate-issuer.ts): certificates issued from a key's
 * request under CAs OpenSSL made, checked by OpenSSL (`x509 -text` reads them, `verify` chains them), by our own
 * SM2 certificate check, and by the certificate parser the host lists keys with. GM/T 0010 signs certificates
 * with the default ID 1234567812345678; OpenSSL 3.0 verifies SM2 certificates with an empty ID unless told, so
 * `verify` is told (`-vfyopt distid:`), as a relying party following the standard is.
 */
import { createPrivateKey, sign as nodeSign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCertificate } from "../../crypto/certificate.js";
import { issueCertificate, type IssueCertificateOptions } from "../../crypto/certificate-issuer.js";
import { buildCertificateRequest, readCertificateRequest } from "../../crypto/certificate-request.js";
import { nameRecord, parseDistinguishedName } from "../../crypto/distinguished-name.js";
import { wrapKeyPairFor } from "../../crypto/enveloped-key.js";
import { sm2PublicKeyInfo } from "../../crypto/public-key.js";
import { sm2CertificateSignatureValid } from "../../crypto/sm2-certificate.js";
import { readX509 } from "../../crypto/x509-reader.js";
import { YztError } from "../../protocol/errors.js";
import { toPem } from "../virtual-token/pem.js";
import { openssl, opensslCa, rsaTestKey, Scratch, sm2Signer, sm2TestKey, type RsaTestKey, type Sm2TestKey, expectBadRequest } from "./renewal-fixtures.js";

const COMPANY = "北京某某科技有限公司";
const CODE = "91110108MA01DEMX0U";
const DAY_MS = 86_400_000;
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const validity = { notBefore: new Date(NOW.getTime() - DAY_MS), notAfter: new Date(NOW.getTime() + 365 * DAY_MS) };

let scratch: Scratch;
let sm2Ca: { key: Sm2TestKey; der: Uint8Array };
let rsaCa: { key: RsaTestKey; der: Uint8Array };

beforeAll(() => {
  scratch = new Scratch();
  const sm2Key = sm2TestKey();
  sm2Ca = { key: sm2Key, der: opensslCa(scratch, "sm2-ca", sm2Key, "SM2") };
  const rsaKey = rsaTestKey();
  rsaCa = { key: rsaKey, der: opensslCa(scratch, "rsa-ca", rsaKey, "RSA") };
});
afterAll(() => scratch.remove());

const GM_DEFAULT_ID = ["-vfyopt", "distid:1234567812345678"];

/** `openssl verify` of a certificate against a CA (both DER); its output. */
function opensslVerify(name: string, certificate: Uint8Array, ca: Uint8Array): string {
  const caFile = scratch.file(`${name}-ca.pem`, toPem("CERTIFICATE", ca));
  const sm2 = parseCertificate(ca).keyAlgorithm === "SM2";
  return openssl(["verify", ...(sm2 ? GM_DEFAULT_ID : []), "-CAfile", caFile, scratch.file(`${name}.pem`, toPem("CERTIFICATE", certificate))]).output;
}

function opensslText(name: string, certificate: Uint8Array): string {
  const result = openssl(["x509", "-inform", "DER", "-in", scratch.file(`${name}.der`, certificate), "-noout", "-text", "-nameopt", "utf8,sep_comma_plus"]);
  expect(result.ok, result.output).toBe(true);
  return result.output;
}

const caSpki = (ca: Uint8Array) => readX509(ca).spki;


describe("an SM2 signing certificate issued from a key's request", () => {
  let request: ReturnType<typeof readCertificateRequest>;
  let certificate: Uint8Array;
  beforeAll(async () => {
    const key = sm2TestKey();
    request = readCertificateRequest(await buildCertificateRequest({ subject: `C=CN,O=${COMPANY},CN=${COMPANY},serialNumber=${CODE}`, publicKey: key.spki, sign: sm2Signer(key) }));
    certificate = issueCertificate({
      issuerCertificate: sm2Ca.der, issuerPrivateKey: sm2Ca.key.d, subject: request.subjectDer, publicKey: request.publicKey, ...validity, purpose: "sign", creditCode: CODE,
    });
  });

  it("verifies against its issuer with our SM2 check and with openssl verify", () => {
    expect(sm2CertificateSignatureValid(certificate, caSpki(sm2Ca.der))).toBe(true);
    expect(opensslVerify("sm2-leaf", certificate, sm2Ca.der)).toMatch(/: OK/);
    expect(sm2CertificateSignatureValid(certificate, sm2TestKey().spki)).toBe(false);
  });

  it("is refused by both once tampered", () => {
    const tampered = Uint8Array.from(certificate);
    tampered[Buffer.from(tampered).indexOf(Buffer.from(CODE)) + 1]! ^= 1;
    expect(sm2CertificateSignatureValid(tampered, caSpki(sm2Ca.der))).toBe(false);
    expect(opensslVerify("sm2-tampered", tampered, sm2Ca.der)).toMatch(/signature failure|verification failed/);
  });

  it("reads in OpenSSL as a v3 SM2-with-SM3 signing certificate, not a CA, with key identifiers", () => {
    const text = opensslText("sm2-leaf", certificate);
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Signature Algorithm: SM2-with-SM3");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation\n/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    expect(text).toContain("X509v3 Authority Key Identifier");
    expect(text).toContain(`Subject: C=CN,O=${COMPANY},CN=${COMPANY},serialNumber=${CODE}`);
  });

  it("lists as the host lists keys: subject as requested, credit code, purpose, issuer's key id", () => {
    const parsed = parseCertificate(certificate);
    const ca = parseCertificate(sm2Ca.der);
    expect(parsed.subject).toEqual(request.subject);
    expect(parsed).toMatchObject({ keyAlgorithm: "SM2", purpose: "sign", creditCode: CODE, isCa: false, keyUsage: ["digitalSignature", "nonRepudiation"] });
    expect(parsed.issuer).toEqual(ca.subject);
    expect(parsed.authorityKeyIdentifier).toBe(ca.subjectKeyIdentifier ?? expect.any(String));
    expect([parsed.notBefore, parsed.notAfter]).toEqual([validity.notBefore, validity.notAfter]);
  });
});

describe("the KMC's SM2 encryption certificate", () => {
  it("carries the wrapped pair's public key with encryption usages, and a validity past 2049 as GeneralizedTime", () => {
    const { pair } = wrapKeyPairFor(sm2TestKey().point);
    const notAfter = new Date(Date.UTC(2051, 0, 2, 3, 4, 5));
    const certificate = issueCertificate({
      issuerCertificate: sm2Ca.der, issuerPrivateKey: sm2Ca.key.d, subject: `CN=${COMPANY},C=CN`, publicKey: sm2PublicKeyInfo(pair.publicKey),
      notBefore: validity.notBefore, notAfter, purpose: "encrypt", serialNumber: Uint8Array.of(0x01, 0x02),
    });
    const parsed = parseCertificate(certificate);
    expect(parsed).toMatchObject({ purpose: "encrypt", keyUsage: ["keyEncipherment", "dataEncipherment", "keyAgreement"], serialNumber: "0102", notAfter });
    expect(Buffer.from(parsed.publicKeyPoint!).equals(Buffer.from(pair.publicKey))).toBe(true);
    expect(opensslText("sm2-encrypt", certificate)).toMatch(/Not After : Jan {2}2 03:04:05 2051 GMT[\s\S]*Key Encipherment, Data Encipherment, Key Agreement\n/);
    expect(opensslVerify("sm2-encrypt", certificate, sm2Ca.der)).toMatch(/: OK/);
  });
});

describe("an RSA certificate from an RSA request", () => {
  it("verifies with openssl verify against its CA, and not against another", async () => {
    const key = rsaTestKey();
    const sign = async (info: Uint8Array) => new Uint8Array(nodeSign("sha256", info, key.privateKey));
    const request = readCertificateRequest(await buildCertificateRequest({ subject: `/C=CN/O=${COMPANY}/CN=张三`, publicKey: key.spki, sign }));
    const certificate = issueCertificate({
      issuerCertificate: rsaCa.der, issuerPrivateKey: rsaCa.key.privateKey, subject: request.subjectDer, publicKey: request.publicKey, ...validity, purpose: "sign",
    });
    expect(opensslText("rsa-leaf", certificate)).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(opensslVerify("rsa-leaf", certificate, rsaCa.der)).toMatch(/: OK/);
    expect(opensslVerify("rsa-other", certificate, opensslCa(scratch, "rsa-other-ca", rsaTestKey(), "RSA"))).toMatch(/unable to get local issuer certificate|verification failed/);
    expect(parseCertificate(certificate)).toMatchObject({ keyAlgorithm: "RSA", subject: request.subject, purpose: "sign" });
  });
});

describe("issuing", () => {
  const base = (): IssueCertificateOptions => ({
    issuerCertificate: sm2Ca.der, issuerPrivateKey: sm2Ca.key.d, subject: "CN=x", publicKey: sm2TestKey().spki, ...validity, purpose: "sign",
  });

  it("writes every DN short name under the key the certificate parser reports it by", () => {
    const dn = "C=CN,ST=北京市,L=海淀区,O=o,OU=ou1,OU=ou2,CN=cn,E=a@b.cn,serialNumber=S1,title=t,street=s,postalCode=100080,givenName=g,surname=s,DC=example,UID=u,2.5.4.45=x";
    const parsed = parseCertificate(issueCertificate({ ...base(), subject: dn }));
    expect(parsed.subject).toEqual(nameRecord(parseDistinguishedName(dn)));
    expect(Object.keys(parsed.subject)).toContain("2.5.4.45");
  });

  it.each<[string, Partial<IssueCertificateOptions>, RegExp]>([
    ["another SM2 key as the issuer's", { issuerPrivateKey: new Uint8Array(32).fill(3) }, /does not match the issuer certificate's public key/],
    ["an RSA key for an SM2 issuer", { issuerPrivateKey: createPrivateKey(rsaTestKey().privatePem) }, /SM2 issuer signs with its 32-byte scalar/],
    ["dates the wrong way round", { notBefore: validity.notAfter, notAfter: validity.notBefore }, /notBefore must be earlier/],
    ["a 21-byte serial", { serialNumber: new Uint8Array(21).fill(1) }, /serialNumber/],
    ["a zero serial", { serialNumber: new Uint8Array(2) }, /serialNumber/],
    ["a credit code with a wrong check character", { creditCode: "91110108MA01DEMX0A" }, /not a valid unified social credit code/],
    ["a DN it cannot encode", { subject: "CN=x,Q=1" }, /unknown attribute "Q"/],
    ["a purpose other than sign or encrypt", { purpose: "both" as never }, /purpose/],
  ])("refuses %s", (_, change, message) => {
    expectBadRequest(() => issueCertificate({ ...base(), ...change }), message);
  });

  it("refuses to issue under a certificate that is not a CA", () => {
    const leaf = issueCertificate(base());
    expectBadRequest(() => issueCertificate({ ...base(), issuerCertificate: leaf }), /not a CA certificate/);
  });

  it("refuses an RSA issuer key that is not the CA's", () => {
    expectBadRequest(() => issueCertificate({ ...base(), issuerCertificate: rsaCa.der, issuerPrivateKey: rsaTestKey().privateKey }), /does not match/);
  });
});
