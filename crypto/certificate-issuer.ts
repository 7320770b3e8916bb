/**
 * A small software CA: issues the X.509 v3 certificates of a renewal (the signing certificate from the key's
 * request, the encryption certificate for the KMC's key pair) for the demo CA and KMC and for tests. Not for
 * production issuing: it signs with a private key in memory. SM2 issuers sign sm2sign-with-sm3 and RSA ones
 * sha256WithRSAEncryption (x509-signature.ts); certificates are shaped like 一证通 ones: keyUsage by purpose,
 * not a CA, key identifiers, and the credit code in GM/T 0015's extension, which certificate.ts reads.
 */
import { createHash, randomBytes, type KeyObject } from "node:crypto";
import { derElement, derUnsignedInteger, expectTag, readTlv } from "../protocol/der.js";
import { badRequest } from "../protocol/errors.js";
import { isCreditCode, parseCertificate } from "./certificate.js";
import { derBitString, derOid, derTime } from "./der-writer.js";
import { subjectNameDer } from "./distinguished-name.js";
import { sm2PublicKeyInfo } from "./public-key.js";
import { publicPointOfSpki } from "./sm2-certificate.js";
import { readSubjectKey, signAs, signatureAlgorithmIdentifier, type SubjectKey } from "./x509-signature.js";
import { childrenOf } from "./x509-reader.js";

export type CertificatePurpose = "sign" | "encrypt";

export interface IssueCertificateOptions {
  /** The issuing CA's certificate, DER: its subject becomes the issuer, its key the signer. */
  issuerCertificate: Uint8Array;
  /** The CA's private key: the SM2 scalar (32 bytes) for an SM2 CA, a node KeyObject for an RSA one. */
  issuerPrivateKey: Uint8Array | KeyObject;
  /** A DN string (distinguished-name.ts) or a DER Name, such as a request's subjectDer. */
  subject: string | Uint8Array;
  /** The subject's SubjectPublicKeyInfo, DER (SM2 keys are written as id-ecPublicKey on the SM2 curve). */
  publicKey: Uint8Array;
  /** Positive big-endian serial, at most 20 bytes; default 16 random bytes. */
  serialNumber?: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** sign: digitalSignature + nonRepudiation; encrypt: keyEncipherment + dataEncipherment + keyAgreement. */
  purpose: CertificatePurpose;
  /** Unified social credit code (GB 32100), written as extension 1.2.156.10260.4.1.4 (GM/T 0015). */
  creditCode?: string;
}

const OID = {
  keyUsage: "2.5.29.15",
  basicConstraints: "2.5.29.19",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  creditCode: "1.2.156.10260.4.1.4",
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3) per purpose. */
const KEY_USAGE_BITS: Record<CertificatePurpose, number[]> = {
  sign: [0, 1],
  encrypt: [2, 3, 4],
};

const MAX_SERIAL_BYTES = 20;
const VERSION_3 = derElement(0xa0, Uint8Array.of(0x02, 0x01, 0x02));
const DER_TRUE = Uint8Array.of(0x01, 0x01, 0xff);

interface Issuer {
  subjectDer: Uint8Array;
  key: SubjectKey;
  keyIdentifier: Uint8Array;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
function keyIdentifierOf(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(publicPointOfSpki(spki)).digest());
}

function readIssuer(certificate: Uint8Array): Issuer {
  const parsed = parseCertificate(certificate);
  if (!parsed.isCa) throw badRequest("issuerCertificate: not a CA certificate (basicConstraints cA is not set)");
  const outer = expectTag(readTlv(certificate, 0), 0x30, "Certificate");
  const [tbs] = childrenOf(certificate, outer);
  const fields = childrenOf(certificate, expectTag(tbs!, 0x30, "TBSCertificate"));
  const [, , issuerName, , subject, spki] = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  if (!issuerName || !subject || !spki) throw badRequest("issuerCertificate: TBSCertificate is missing fields");
  const key = readSubjectKey(certificate.subarray(spki.at, spki.end));
  const skiHex = parsed.subjectKeyIdentifier;
  return {
    subjectDer: certificate.slice(subject.at, subject.end),
    key,
    keyIdentifier: skiHex ? new Uint8Array(Buffer.from(skiHex, "hex")) : keyIdentifierOf(key.spki),
  };
}

function serialNumberDer(serial: Uint8Array | undefined): Uint8Array {
  const bytes = serial ?? new Uint8Array(randomBytes(16));
  if (!serial) bytes[0] = (bytes[0]! & 0x7f) | 0x10; // positive and exactly 16 bytes
  if (bytes.length === 0 || bytes.length > MAX_SERIAL_BYTES || bytes.every((byte) => byte === 0)) {
    throw badRequest(`serialNumber: a positive integer of at most ${MAX_SERIAL_BYTES} bytes`);
  }
  const integer = derUnsignedInteger(bytes);
  if (integer.length - 2 > MAX_SERIAL_BYTES) throw badRequest(`serialNumber: at most ${MAX_SERIAL_BYTES} bytes once encoded (top bit clear)`);
  return integer;
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical ? derElement(0x30, derOid(oid), DER_TRUE, derElement(0x04, value)) : derElement(0x30, derOid(oid), derElement(0x04, value));
}

/** KeyUsage as a DER BIT STRING: trailing zero bits dropped (X.690 §11.2.2). */
function keyUsage(bits: number[]): Uint8Array {
  let byte = 0;
  for (const bit of bits) byte |= 0x80 >> bit;
  return derElement(0x03, Uint8Array.of(7 - Math.max(...bits), byte));
}

function extensions(options: IssueCertificateOptions, subjectSpki: Uint8Array, issuer: Issuer): Uint8Array {
  const list = [
    extension(OID.basicConstraints, true, derElement(0x30)), // cA FALSE: the DEFAULT, so omitted in DER
    extension(OID.keyUsage, true, keyUsage(KEY_USAGE_BITS[options.purpose])),
    extension(OID.subjectKeyIdentifier, false, derElement(0x04, keyIdentifierOf(subjectSpki))),
    extension(OID.authorityKeyIdentifier, false, derElement(0x30, derElement(0x80, issuer.keyIdentifier))),
  ];
  if (options.creditCode !== undefined) {
    if (!isCreditCode(options.creditCode)) throw badRequest(`creditCode: "${options.creditCode}" is not a valid unified social credit code`);
    list.push(extension(OID.creditCode, false, derElement(0x13, new TextEncoder().encode(options.creditCode))));
  }
  return derElement(0xa3, derElement(0x30, ...list));
}

/** The issued certificate, DER. Throws badRequest for inputs a CA must refuse (bad key, dates, serial, issuer). */
export function issueCertificate(options: IssueCertificateOptions): Uint8Array {
  if (!KEY_USAGE_BITS[options.purpose]) throw badRequest(`purpose: "sign" or "encrypt", not ${String(options.purpose)}`);
  if (!(options.notBefore < options.notAfter)) throw badRequest("notBefore must be earlier than notAfter");
  const issuer = readIssuer(options.issuerCertificate);
  const subjectKey = readSubjectKey(options.publicKey);
  const spki = subjectKey.keyAlgorithm === "SM2" ? sm2PublicKeyInfo(subjectKey.point!) : subjectKey.spki;
  const algorithm = signatureAlgorithmIdentifier(issuer.key.keyAlgorithm);
  const tbs = derElement(
    0x30,
    VERSION_3,
    serialNumberDer(options.serialNumber),
    algorithm,
    issuer.subjectDer,
    derElement(0x30, derTime(options.notBefore), derTime(options.notAfter)),
    subjectNameDer(options.subject),
    spki,
    extensions(options, spki, issuer),
  );
  return derElement(0x30, tbs, algorithm, derBitString(signAs(issuer.key, options.issuerPrivateKey, tbs)));
}
