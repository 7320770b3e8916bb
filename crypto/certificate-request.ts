/**
 * PKCS#10 certificate requests (RFC 2986) for certificate renewal, as a CA's enrolment page asks a USB key
 * for one: the host builds the CertificationRequestInfo, the key signs it, and the request goes back to the
 * page; the demo CA and the tests read requests back and check their signature. Built and read with the
 * project's DER helpers, no ASN.1 library. Signature algorithms by key type: x509-signature.ts.
 */
import { derElement, expectTag, readTlv, type Tlv } from "../protocol/der.js";
import { badRequest } from "../protocol/errors.js";
import { derBitString } from "./der-writer.js";
import { nameRecord, readName, subjectNameDer } from "./distinguished-name.js";
import { readAlgorithmIdentifier, readSubjectKey, signatureAlgorithmIdentifier, signingAlgorithmOid, verifySignature, type X509KeyAlgorithm } from "./x509-signature.js";
import { childrenOf, contentOf } from "./x509-reader.js";

export { parseDistinguishedName, type DistinguishedNameAttribute } from "./distinguished-name.js";

/** version INTEGER 0 (v1, the only PKCS#10 version) and empty attributes [0] IMPLICIT SET OF Attribute. */
const VERSION_1 = Uint8Array.of(0x02, 0x01, 0x00);
const NO_ATTRIBUTES = Uint8Array.of(0xa0, 0x00);

export interface CertificateRequestOptions {
  /** A DN string ("CN=…,O=…,C=CN", "/C=CN/O=…"; see distinguished-name.ts for order and types) or a DER Name. */
  subject: string | Uint8Array;
  /** The signing key's SubjectPublicKeyInfo (DER), as the key reports it; written unchanged. */
  publicKey: Uint8Array;
  /**
   * Signs the DER CertificationRequestInfo on the key and returns the DER signature value: RSA the PKCS#1 v1.5
   * signature bytes (SHA-256), SM2 SEQUENCE { r, s } over e = SM3(Z‖M) with the ID 1234567812345678.
   */
  sign: (certificationRequestInfoDer: Uint8Array) => Promise<Uint8Array>;
}

/**
 * The DER CertificationRequest. The key's signature is checked before the request is returned: a key that
 * signed with another key pair or another SM2 signer ID would otherwise be refused only later, by the CA.
 */
export async function buildCertificateRequest(options: CertificateRequestOptions): Promise<Uint8Array> {
  const key = readSubjectKey(options.publicKey);
  const info = derElement(0x30, VERSION_1, subjectNameDer(options.subject), key.spki, NO_ATTRIBUTES);
  const signature = await options.sign(info);
  if (!verifySignature(key, { oid: signingAlgorithmOid(key.keyAlgorithm) }, info, signature)) {
    throw badRequest(`the key's ${key.keyAlgorithm} signature does not verify with the request's public key (another key pair, another SM2 signer ID, or not a DER signature value)`);
  }
  return derElement(0x30, info, signatureAlgorithmIdentifier(key.keyAlgorithm), derBitString(signature));
}

export interface CertificateRequestContent {
  /** Short name → value, as YztCertificate.subject. */
  subject: Record<string, string>;
  /** The subject Name as the request encodes it, for a CA that copies it into the certificate. */
  subjectDer: Uint8Array;
  /** SubjectPublicKeyInfo, DER, as in the request. */
  publicKey: Uint8Array;
  keyAlgorithm: X509KeyAlgorithm;
}

interface RequestParts {
  info: Uint8Array;
  subjectDer: Uint8Array;
  spki: Uint8Array;
  algorithm: ReturnType<typeof readAlgorithmIdentifier>;
  signature: Uint8Array;
}

function exactly(der: Uint8Array, tlv: Tlv): Uint8Array {
  return der.subarray(tlv.at, tlv.end);
}

function splitRequest(der: Uint8Array): RequestParts {
  const outer = expectTag(readTlv(der, 0), 0x30, "CertificationRequest");
  if (outer.end !== der.length) throw new Error(`DER: ${der.length - outer.end} bytes after the request`);
  const [info, algorithm, signature, extra] = childrenOf(der, outer);
  if (!info || !algorithm || !signature || extra) throw new Error("DER: a request is the request info, an algorithm and a signature");
  // Attributes [0] are required by RFC 2986 but left out by some vendors' tools; the signature covers what is there.
  const [version, subject, spki, attributes, more] = childrenOf(der, expectTag(info, 0x30, "CertificationRequestInfo"));
  if (!version || !subject || !spki || more || (attributes && attributes.tag !== 0xa0)) throw new Error("DER: CertificationRequestInfo is version, subject, key and [0] attributes");
  const versionBytes = contentOf(der, expectTag(version, 0x02, "version"));
  if (versionBytes.length !== 1 || versionBytes[0] !== 0) throw new Error("DER: the request version must be 0 (v1)");
  const bits = contentOf(der, expectTag(signature, 0x03, "signature BIT STRING"));
  if (bits[0] !== 0) throw new Error("DER: the signature BIT STRING has unused bits");
  return {
    info: exactly(der, info),
    subjectDer: exactly(der, subject).slice(),
    spki: exactly(der, expectTag(spki, 0x30, "SubjectPublicKeyInfo")),
    algorithm: readAlgorithmIdentifier(der, algorithm),
    signature: bits.subarray(1),
  };
}

/** Parses a DER PKCS#10 request and verifies its signature; badRequest when malformed or when it does not verify. */
export function readCertificateRequest(der: Uint8Array): CertificateRequestContent {
  let parts: RequestParts;
  try {
    parts = splitRequest(der);
  } catch (error) {
    throw badRequest(`certificate request: not a DER PKCS#10 request (${error instanceof Error ? error.message : String(error)})`);
  }
  const key = readSubjectKey(parts.spki);
  const subject = nameRecord(readName(parts.subjectDer));
  if (!verifySignature(key, parts.algorithm, parts.info, parts.signature)) throw badRequest("certificate request: the signature does not verify with the request's public key");
  return { subject, subjectDer: parts.subjectDer, publicKey: key.spki, keyAlgorithm: key.keyAlgorithm };
}
