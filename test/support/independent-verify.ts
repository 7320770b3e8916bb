/**
 * Signature checks by code that is not the project's, for every algorithm the tests meet:
 * - RSA and EC CMS: `openssl cms -verify` against the demo chain;
 * - SM2 raw signatures: `openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:ID`;
 * - SM2 CMS (which OpenSSL 3.0 cannot verify): the SM3 messageDigest by `openssl dgst -sm3`, and the SM2
 *   signature over the signed attributes by the sm-crypto npm package.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { sm2 as smCrypto } from "sm-crypto";
import { detachContent } from "../../protocol/cms-attach.js";
import { readTlv } from "../../protocol/der.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function inScratch<T>(work: (path: (name: string, content?: Uint8Array | string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "yzt-verify-"));
  try {
    return work((name, content) => {
      const path = join(dir, name);
      if (content !== undefined) writeFileSync(path, content);
      return path;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function succeeds(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    return true;
  } catch {
    return false;
  }
}

/** The SignedData of a CMS, parsed from its detached form (asn1js refuses embedded content of tens of MB). */
function signedDataOf(signature: Uint8Array): pkijs.SignedData {
  let detached = signature;
  try {
    detached = detachContent(signature).detached;
  } catch {
    // already detached
  }
  return new pkijs.SignedData({ schema: pkijs.ContentInfo.fromBER(new Uint8Array(detached)).content });
}

const certificateOf = (signature: Uint8Array): pkijs.Certificate => signedDataOf(signature).certificates![0] as pkijs.Certificate;

/** SM2 (DER) over message with SM3 and the distinguishing ID, checked by OpenSSL 3 with a public key (PEM). */
function opensslVerifiesSm2With(publicKeyPem: string, message: Uint8Array, derSignature: Uint8Array, id: string): boolean {
  return inScratch((path) =>
    succeeds("openssl", [
      "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", path("pub.pem", publicKeyPem),
      "-in", path("message.bin", message), "-sigfile", path("sig.der", derSignature), "-pkeyopt", `distid:${id}`,
    ]),
  );
}

/** SM2 (DER) over message with SM3 and the distinguishing ID, checked by OpenSSL 3 with the certificate's key (PEM or DER). */
export function opensslVerifiesSm2(certificate: string | Uint8Array, message: Uint8Array, derSignature: Uint8Array, id = "1234567812345678"): boolean {
  const inform = typeof certificate === "string" ? "PEM" : "DER";
  const publicKey = inScratch((path) => execFileSync("openssl", ["x509", "-inform", inform, "-pubkey", "-noout", "-in", path("cert", certificate)], { encoding: "utf8" }));
  return opensslVerifiesSm2With(publicKey, message, derSignature, id);
}

/**
 * A PKCS#10 request checked by OpenSSL: RSA with `openssl req -verify`; SM2 (which `req -verify` checks without
 * the SM2 signer ID) over its CertificationRequestInfo with SM3 and ID 1234567812345678 through pkeyutl.
 */
export function opensslVerifiesRequest(request: Uint8Array): boolean {
  const publicKey = inScratch((path) => execFileSync("openssl", ["req", "-inform", "DER", "-in", path("req.der", request), "-pubkey", "-noout"], { encoding: "utf8" }));
  const outer = readTlv(request, 0);
  const info = readTlv(request, outer.start, outer.end);
  const algorithm = readTlv(request, info.end, outer.end);
  const signature = readTlv(request, algorithm.end, outer.end);
  const isSm2 = hex(request.subarray(algorithm.start, algorithm.end)).includes("2a811ccf55018375"); // 1.2.156.10197.1.501
  if (!isSm2) return inScratch((path) => succeeds("openssl", ["req", "-verify", "-inform", "DER", "-in", path("req.der", request), "-noout"]));
  // The BIT STRING's first byte counts unused bits (0): the DER signature follows it.
  return opensslVerifiesSm2With(publicKey, request.subarray(info.at, info.end), request.subarray(signature.start + 1, signature.end), "1234567812345678");
}

/** An SM2 CMS SignedData (attached or detached with `content`) checked without the project's code; `sm2Id`: the signer's distinguishing ID when not the default. */
export function independentlyVerifiesSm2Cms(signature: Uint8Array, content: Uint8Array, sm2Id?: string): boolean {
  const signer = signedDataOf(signature).signerInfos[0]!;
  const digestAttribute = signer.signedAttrs?.attributes.find((a) => a.type === "1.2.840.113549.1.9.4");
  if (!digestAttribute) return false;
  const claimed = hex((digestAttribute.values[0] as asn1js.OctetString).valueBlock.valueHexView);
  const sm3 = inScratch((path) => execFileSync("openssl", ["dgst", "-sm3", "-r", path("content.bin", content)], { encoding: "utf8" }).split(" ")[0]);
  if (claimed !== sm3) return false;
  const attributes = new Uint8Array(signer.signedAttrs!.encodedValue);
  attributes[0] = 0x31; // signed as an explicit SET OF
  const publicKey = hex(certificateOf(signature).subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  return smCrypto.doVerifySignature(Array.from(attributes) as unknown as string, hex(signer.signature.valueBlock.valueHexView), publicKey, { der: true, hash: true, ...(sm2Id ? { userId: sm2Id } : {}) });
}

/** Any CMS the project makes, by its signer's algorithm: OpenSSL for RSA/EC (with the chain), SM2 as above. */
export function independentlyVerifiesCms(signature: Uint8Array, content: Uint8Array, caFile: string): boolean {
  const certificate = certificateOf(signature);
  if (certificate.signatureAlgorithm.algorithmId === "1.2.156.10197.1.501") return independentlyVerifiesSm2Cms(signature, content);
  return inScratch((path) =>
    succeeds("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", path("sig.p7s", signature), "-content", path("content.bin", content), "-CAfile", caFile, "-purpose", "any", "-out", path("out.bin")]),
  );
}

/** The uncompressed public point of a certificate (PEM or DER), in hex as sm-crypto takes it. */
function publicPointHex(certificate: string | Uint8Array): string {
  const der = typeof certificate === "string" ? Buffer.from(certificate.replace(/-----[^-]+-----|\s/g, ""), "base64") : certificate;
  return hex(pkijs.Certificate.fromBER(new Uint8Array(der)).subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
}

/** SM2 r‖s over message (SM3, Z with the default ID) checked in-process by sm-crypto: for many signatures at once. */
export function smCryptoVerifiesSm2Raw(certificate: string | Uint8Array, message: Uint8Array, rs: Uint8Array): boolean {
  return rs.length === 64 && smCrypto.doVerifySignature(Array.from(message) as unknown as string, hex(rs), publicPointHex(certificate), { hash: true });
}

/** An SM2-with-SM3 certificate signature checked by sm-crypto against the issuer certificate (both PEM). */
export function smCryptoVerifiesSm2Certificate(certificatePem: string, issuerPem: string): boolean {
  const der = Buffer.from(certificatePem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(der));
  return smCrypto.doVerifySignature(Array.from(new Uint8Array(certificate.tbsView)) as unknown as string,
    hex(certificate.signatureValue.valueBlock.valueHexView), publicPointHex(issuerPem), { der: true, hash: true });
}
