/**
 * Host methods behind the XTXApp layer, over real stdio framing against the virtual token: envelopes and
 * key encryption checked both ways with OpenSSL (what the host encrypts OpenSSL decrypts with the key's
 * private key, what OpenSSL encrypts the token decrypts), signed-message checks, certificate validation,
 * and the rationing of page-supplied PINs that keeps page scripts from locking a key.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { HostProcess, rejectionOf } from "../../scripts/host-process.js";
import { testBackend } from "../virtual-token/backend.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { toPem } from "../virtual-token/pem.js";
import { insertToken } from "../virtual-token/state.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const PIN = "12345678";
const RSA_SERIAL = "YZT0000000000005";
const SM2_SERIAL = "YZT0000000000001";

let vtoken: VirtualToken;
let host: HostProcess;
let work: string;
let signCert: YztCertificate;
let encCert: YztCertificate;

function pem(der: string): string {
  return toPem("CERTIFICATE", Buffer.from(der, "base64"));
}

function file(name: string, content: Buffer | string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

/** The encryption key's escrowed copy (as the CA's KMC keeps it), so OpenSSL checks our envelopes on its own. */
function encryptionKeyPem(): string {
  const entry = vtoken.manifest.tokens.find((token) => token.serial === RSA_SERIAL)!;
  return readFileSync(entry.certificates.find((certificate) => certificate.purpose === "encrypt")!.escrowKey!, "utf8");
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  insertToken(vtoken.home, "rsa");
  work = mkdtempSync(join(tmpdir(), "yzt-xtx-host-"));
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  const certificates = await host.request("listCertificates", { tokenSerial: RSA_SERIAL });
  signCert = certificates.find((c) => c.purpose === "sign")!;
  encCert = certificates.find((c) => c.purpose === "encrypt")!;
}, 60_000);

afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("XTXApp host methods", () => {
  it("builds SM4-CBC and 3DES envelopes that openssl cms -decrypt opens with the encryption key", async () => {
    const text = "增值税申报表 2026-11";
    for (const cipher of ["SM4-CBC", "3DES-CBC"] as const) {
      const { data } = await host.request("encrypt", { certificate: encCert.der, data: Buffer.from(text).toString("base64"), format: "envelope", cipher });
      const envelope = file(`envelope-${cipher}.der`, Buffer.from(data, "base64"));
      const plain = execFileSync("openssl", ["cms", "-decrypt", "-inform", "DER", "-in", envelope, "-inkey", file("enc.key", encryptionKeyPem()), "-recip", file("enc.pem", pem(encCert.der))]);
      expect(plain.toString("utf8")).toBe(text);
      expect(execFileSync("openssl", ["asn1parse", "-inform", "DER", "-in", envelope], { encoding: "utf8" })).toContain(cipher === "SM4-CBC" ? "sm4-cbc" : "des-ede3-cbc");
    }
  });

  it("decrypts on the token what openssl cms -encrypt made, once the origin is logged in", async () => {
    const text = Buffer.from("发票数据 ".repeat(2000));
    // An SKF key decrypts the content inside itself, and GM/T 0016 ciphers are SM4: OpenSSL's SM4 envelope there.
    const cipher = vtoken.backend === "skf" ? "-sm4-cbc" : "-aes256";
    const envelope = execFileSync("openssl", ["cms", "-encrypt", "-binary", "-outform", "DER", cipher, file("enc-recip.pem", pem(encCert.der))], { input: text });
    const request = { certificateId: signCert.id, origin: ORIGIN, data: envelope.toString("base64"), format: "envelope" as const };
    expect((await rejectionOf(host.request("decrypt", request))).code).toBe("LOGIN_REQUIRED");
    const { data } = await host.request("decrypt", { ...request, pin: PIN });
    expect(Buffer.from(data, "base64").equals(text)).toBe(true);
    // The session now stands: no PIN needed for the next one, and an SM4 envelope of ours opens too.
    const own = await host.request("encrypt", { certificate: encCert.der, data: Buffer.from("往返").toString("base64"), format: "envelope" });
    expect(Buffer.from((await host.request("decrypt", { ...request, data: own.data })).data, "base64").toString("utf8")).toBe("往返");
  });

  it.runIf(testBackend() === "skf")("refuses an AES envelope on an SKF key with UNSUPPORTED_ALGORITHM naming the cipher (GM/T 0016 decrypts SM4 content only)", async () => {
    const envelope = execFileSync("openssl", ["cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", file("aes-recip.pem", pem(encCert.der))], { input: Buffer.from("AES") });
    const refused = await rejectionOf(host.request("decrypt", { certificateId: signCert.id, origin: ORIGIN, data: envelope.toString("base64"), format: "envelope", pin: PIN }));
    expect(refused.code).toBe("UNSUPPORTED_ALGORITHM");
    expect(refused.message).toContain("2.16.840.1.101.3.4.1.42");
  });

  it("encrypts and decrypts raw PKCS#1 v1.5 with the key (SOF_PubKeyEncrypt / SOF_PriKeyDecrypt), both checked by OpenSSL", async () => {
    const { data } = await host.request("encrypt", { certificate: encCert.der, data: Buffer.from("口令").toString("base64"), format: "raw" });
    const plain = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", file("raw.key", encryptionKeyPem()), "-pkeyopt", "rsa_padding_mode:pkcs1"], { input: Buffer.from(data, "base64") });
    expect(plain.toString("utf8")).toBe("口令");
    const theirs = execFileSync("openssl", ["pkeyutl", "-encrypt", "-certin", "-inkey", file("raw.pem", pem(encCert.der)), "-pkeyopt", "rsa_padding_mode:pkcs1"], { input: Buffer.from("secret") });
    const request = { certificateId: signCert.id, origin: ORIGIN, data: theirs.toString("base64"), format: "raw" as const };
    if (vtoken.backend === "skf") {
      // GM/T 0016 has no RSA private-key decryption: a typed refusal, never a wrong answer.
      expect((await rejectionOf(host.request("decrypt", request))).code).toBe("UNSUPPORTED_ALGORITHM");
      return;
    }
    const back = await host.request("decrypt", request);
    expect(Buffer.from(back.data, "base64").toString()).toBe("secret");
  });

  it("refuses what cannot be done with typed errors: damaged envelopes, envelopes for someone else, SM2 keys, too much data", async () => {
    const own = await host.request("encrypt", { certificate: encCert.der, data: "AAAA", format: "envelope" });
    const damaged = Buffer.from(own.data, "base64");
    damaged[damaged.length - 3] ^= 0xff;
    expect((await rejectionOf(host.request("decrypt", { certificateId: signCert.id, origin: ORIGIN, data: damaged.toString("base64"), format: "envelope" }))).code).toBe("BAD_REQUEST");
    expect((await rejectionOf(host.request("decrypt", { certificateId: signCert.id, origin: ORIGIN, data: "MAMCAQE=", format: "envelope" }))).code).toBe("BAD_REQUEST");
    const forSign = await host.request("encrypt", { certificate: signCert.der, data: "AAAA", format: "envelope" });
    expect((await rejectionOf(host.request("decrypt", { certificateId: signCert.id, origin: ORIGIN, data: forSign.data, format: "envelope" }))).code).toBe("NO_CERTIFICATE");
    const ec = await rejectionOf(host.request("encrypt", { certificate: readFileSync(vtoken.manifest.tls.cert, "utf8").replace(/-----[^-]+-----|\s/g, ""), data: "AAAA", format: "envelope" }));
    expect(ec.code).toBe("UNSUPPORTED_ALGORITHM"); // EC keys only sign
    expect((await rejectionOf(host.request("encrypt", { certificate: encCert.der, data: Buffer.alloc(300).toString("base64"), format: "raw" }))).code).toBe("BAD_REQUEST");
  });

  it("verifies signed messages and reports their content, certificate and signature value", async () => {
    const content = Buffer.from("申报").toString("base64");
    const signed = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, data: content, format: "pkcs7-attached" });
    const report = await host.request("verifyMessage", { signature: signed.signature });
    expect(report).toMatchObject({ valid: true, content, certificate: signCert.der });
    expect(Buffer.from(report.signature!, "base64")).toHaveLength(256);
    const detached = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, data: content, format: "pkcs7-detached" });
    expect((await host.request("verifyMessage", { signature: detached.signature, data: content })).valid).toBe(true);
    expect(await host.request("verifyMessage", { signature: detached.signature, data: Buffer.from("篡改").toString("base64") })).toEqual({ valid: false, failure: "signature" });
    expect(await host.request("verifyMessage", { signature: detached.signature })).toEqual({ valid: false, failure: "format" });
  });

  it("validates certificates against the configured CA certificates and their dates", async () => {
    expect(await host.request("validateCertificate", { certificate: signCert.der })).toEqual({ status: "valid" });
    const selfSigned = execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "self.key"), "-subj", "/CN=self", "-days", "2", "-outform", "DER"]);
    expect(await host.request("validateCertificate", { certificate: selfSigned.toString("base64") })).toEqual({ status: "untrusted" });
  });

  it("stops passing page-supplied PINs to the key after 3 wrong ones: the key keeps 7 retries, the user's own PIN still works", async () => {
    const other = "https://tpass.beijing.chinatax.gov.cn";
    const pageLogin = (pin: string) => host.request("login", { certificateId: signCert.id, origin: other, pin, pinSource: "page" });
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await rejectionOf(pageLogin("00000000"))).data).toMatchObject({ retriesLeft: 10 - attempt });
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const refused = await rejectionOf(pageLogin("00000000"));
      expect(refused.code).toBe("NOT_ALLOWED");
      expect(refused.data).toMatchObject({ reason: "pagePinLimit", retriesLeft: 7 });
    }
    // Even the right PIN from a page is refused now, and so is one the token would never take; changing the PIN too.
    expect((await rejectionOf(pageLogin(PIN))).code).toBe("NOT_ALLOWED");
    expect((await rejectionOf(pageLogin("a-pin-far-too-long-for-any-key"))).code).toBe("NOT_ALLOWED");
    expect((await rejectionOf(host.request("changePin", { tokenSerial: RSA_SERIAL, oldPin: "00000000", newPin: "11112222", pinSource: "page" }))).code).toBe("NOT_ALLOWED");
    expect((await host.request("listTokens", {})).find((t) => t.serial === RSA_SERIAL)!.pin.retriesLeft).toBe(7);
    // The PIN typed into the extension's dialog resets the ration.
    await host.request("login", { certificateId: signCert.id, origin: other, pin: PIN });
    expect((await pageLogin(PIN)).tokenSerial).toBe(RSA_SERIAL);
  });
});

describe("SM2 encryption and decryption on the token (current 一证通 keys)", () => {
  let sm2Sign: YztCertificate;
  let sm2Enc: YztCertificate;
  const sm2Escrow = () => vtoken.manifest.tokens.find((t) => t.serial === SM2_SERIAL)!.certificates.find((c) => c.purpose === "encrypt")!.escrowKey!;

  beforeAll(async () => {
    const certificates = await host.request("listCertificates", { tokenSerial: SM2_SERIAL });
    sm2Sign = certificates.find((c) => c.purpose === "sign")!;
    sm2Enc = certificates.find((c) => c.purpose === "encrypt")!;
  });

  it("encrypts with the SM2 certificate (GM/T 0009 DER) so that OpenSSL decrypts with the key, and decrypts OpenSSL's SM2 ciphertext on the token", async () => {
    const { data } = await host.request("encrypt", { certificate: sm2Enc.der, data: Buffer.from("国密加密").toString("base64"), format: "raw" });
    const plain = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", sm2Escrow()], { input: Buffer.from(data, "base64") });
    expect(plain.toString("utf8")).toBe("国密加密");
    const publicKey = file("sm2-enc.pub", execFileSync("openssl", ["x509", "-pubkey", "-noout", "-in", file("sm2-enc.pem", pem(sm2Enc.der))]));
    const theirs = execFileSync("openssl", ["pkeyutl", "-encrypt", "-pubin", "-inkey", publicKey], { input: Buffer.from("服务器发来的数据") });
    const request = { certificateId: sm2Sign.id, origin: ORIGIN, data: theirs.toString("base64"), format: "raw" as const };
    expect((await rejectionOf(host.request("decrypt", request))).code).toBe("LOGIN_REQUIRED");
    const back = await host.request("decrypt", { ...request, pin: PIN });
    expect(Buffer.from(back.data, "base64").toString("utf8")).toBe("服务器发来的数据");
    const damaged = Buffer.from(theirs);
    damaged[damaged.length - 1] ^= 1;
    expect((await rejectionOf(host.request("decrypt", { ...request, data: damaged.toString("base64") }))).code).toBe("BAD_REQUEST");
  });

  it("builds GM/T 0010 SM2 envelopes (SM4-CBC content) that open on the token and, piece by piece, with OpenSSL", async () => {
    const text = "增值税纳税申报表（国密信封）".repeat(50);
    const { data } = await host.request("encrypt", { certificate: sm2Enc.der, data: Buffer.from(text).toString("base64"), format: "envelope" });
    const envelope = Buffer.from(data, "base64");
    const parsed = execFileSync("openssl", ["asn1parse", "-inform", "DER"], { input: envelope, encoding: "utf8" });
    expect(parsed).toContain("1.2.156.10197.6.1.4.2.3"); // GM/T 0010 envelopedData
    expect(parsed).toContain("1.2.156.10197.1.301.3"); // SM2 encryption of the content key
    // OpenSSL cannot read SM2 CMS envelopes, so open the two layers with it separately: the key, then the content.
    const { ContentInfo, EnvelopedData, KeyTransRecipientInfo } = await import("pkijs");
    const enveloped = new EnvelopedData({ schema: ContentInfo.fromBER(new Uint8Array(envelope)).content });
    const encryptedKey = Buffer.from((enveloped.recipientInfos[0]!.value as InstanceType<typeof KeyTransRecipientInfo>).encryptedKey.valueBlock.valueHexView);
    const contentKey = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", sm2Escrow()], { input: encryptedKey });
    const iv = Buffer.from((enveloped.encryptedContentInfo.contentEncryptionAlgorithm.algorithmParams as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView);
    // pkijs writes long content as a constructed (BER) OCTET STRING of pieces.
    const encrypted = enveloped.encryptedContentInfo.encryptedContent!;
    const pieces = encrypted.idBlock.isConstructed ? (encrypted.valueBlock.value as Array<{ valueBlock: { valueHexView: Uint8Array } }>) : [encrypted];
    const content = Buffer.concat(pieces.map((piece) => piece.valueBlock.valueHexView));
    const plain = execFileSync("openssl", ["enc", "-d", "-sm4-cbc", "-K", contentKey.toString("hex"), "-iv", iv.toString("hex")], { input: content });
    expect(plain.toString("utf8")).toBe(text);
    const opened = await host.request("decrypt", { certificateId: sm2Sign.id, origin: ORIGIN, data, format: "envelope" });
    expect(Buffer.from(opened.data, "base64").toString("utf8")).toBe(text);
  });
});

describe("XML signatures (SOF_SignDataXML)", () => {
  const document = `<?xml version="1.0" encoding="UTF-8"?>\n<申报 xmlns="urn:example:tax" 税号="91110108MA01DEMO01"><期间>2026-11</期间><金额 币种="CNY">12345.67</金额></申报>`;

  /** xmlsec1 (libxmlsec, not our code) checks the signature with the certificate it carries, trusting the demo CA. */
  function xmlsecVerifies(xml: string): boolean {
    const path = file(`signed-${Date.now()}.xml`, xml);
    try {
      execFileSync("xmlsec1", ["--verify", "--enabled-key-data", "x509", "--trusted-pem", vtoken.manifest.pki.root, "--untrusted-pem", vtoken.manifest.pki.intermediate, path], { stdio: "pipe" });
      return true;
    } catch {
      return false;
    }
  }

  it("signs a whole document with an enveloped signature that xmlsec1 verifies, and rejects a tampered one", async () => {
    const { xml } = await host.request("signXml", { certificateId: signCert.id, origin: ORIGIN, xml: Buffer.from(document).toString("base64"), pin: PIN });
    const signed = Buffer.from(xml, "base64").toString("utf8");
    expect(signed).toContain("<期间>2026-11</期间>");
    expect(xmlsecVerifies(signed)).toBe(true);
    expect(xmlsecVerifies(signed.replace("12345.67", "99999.99"))).toBe(false);
    const report = await host.request("verifyXml", { xml });
    expect(report).toMatchObject({ valid: true, certificate: signCert.der, signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" });
    expect(report.content).toContain("<金额 币种=\"CNY\">12345.67</金额>");
    expect(report.content).not.toContain("Signature");
    const tampered = Buffer.from(signed.replace("12345.67", "99999.99")).toString("base64");
    expect(await host.request("verifyXml", { xml: tampered })).toEqual({ valid: false, failure: "signature" });
  });

  it("refuses malformed XML, unsigned XML and SM2 keys (XML-DSig has no SM2 algorithm) with typed answers", async () => {
    expect((await rejectionOf(host.request("signXml", { certificateId: signCert.id, origin: ORIGIN, xml: Buffer.from("<a><b></a>").toString("base64") }))).code).toBe("BAD_REQUEST");
    expect(await host.request("verifyXml", { xml: Buffer.from(document).toString("base64") })).toEqual({ valid: false, failure: "format" });
    const sm2 = (await host.request("listCertificates", { tokenSerial: SM2_SERIAL, purpose: "sign" }))[0]!;
    // Refused before any PIN is asked (no pin given here, and no session on that key).
    const refused = await rejectionOf(host.request("signXml", { certificateId: sm2.id, origin: ORIGIN, xml: Buffer.from(document).toString("base64") }));
    expect(refused.code).toBe("UNSUPPORTED_ALGORITHM");
  });
});
