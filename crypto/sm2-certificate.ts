/**
 * SM2-with-SM3 certificate signatures (GM/T 0015), which Node's X509Certificate.verify cannot check: it
 * treats SM2-curve keys as ECDSA keys. Z is computed with the default ID, as issuers do. Walks the DER
 * itself (no ASN.1 library), so chain checks stay cheap for a host that has not parsed a certificate yet.
 */
import { expectTag, readTlv } from "../protocol/der.js";
import { derToRs, sm2Digest, sm2Verify } from "./sm2.js";

/** DER of the OID 1.2.156.10197.1.501 (SM2-with-SM3), value bytes only. */
const SM2_WITH_SM3_OID = Uint8Array.from([0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75]);

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/** BIT STRING content without its unused-bits byte (which must be 0 for keys and signatures). */
function bitStringBytes(der: Uint8Array, at: number, limit: number): { bytes: Uint8Array; end: number } {
  const bits = expectTag(readTlv(der, at, limit), 0x03, "BIT STRING");
  if (der[bits.start] !== 0) throw new Error("DER: BIT STRING with unused bits");
  return { bytes: der.subarray(bits.start + 1, bits.end), end: bits.end };
}

/** DER value bytes of the SM2 curve OID 1.2.156.10197.1.301. */
const SM2_CURVE_OID = Uint8Array.from([0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d]);

/**
 * Is this SubjectPublicKeyInfo an SM2 key (id-ecPublicKey on the SM2 curve)? Node cannot tell: it reports
 * such keys with no type and no curve.
 */
export function isSm2Spki(spki: Uint8Array): boolean {
  try {
    const outer = expectTag(readTlv(spki, 0), 0x30, "SubjectPublicKeyInfo");
    const algorithm = expectTag(readTlv(spki, outer.start, outer.end), 0x30, "AlgorithmIdentifier");
    const keyType = expectTag(readTlv(spki, algorithm.start, algorithm.end), 0x06, "algorithm");
    const curve = expectTag(readTlv(spki, keyType.end, algorithm.end), 0x06, "curve");
    return sameBytes(spki.subarray(curve.start, curve.end), SM2_CURVE_OID);
  } catch {
    return false;
  }
}

/** The public point of a SubjectPublicKeyInfo (DER): SEQUENCE { AlgorithmIdentifier, BIT STRING point }. */
export function publicPointOfSpki(spki: Uint8Array): Uint8Array {
  const outer = expectTag(readTlv(spki, 0), 0x30, "SubjectPublicKeyInfo");
  const algorithm = expectTag(readTlv(spki, outer.start, outer.end), 0x30, "AlgorithmIdentifier");
  return bitStringBytes(spki, algorithm.end, outer.end).bytes;
}

/** true/false for an SM2-signed certificate checked against the issuer's key; undefined when it is not SM2-signed. */
export function sm2CertificateSignatureValid(certificateDer: Uint8Array, issuerSpkiDer: Uint8Array): boolean | undefined {
  let tbs: Uint8Array;
  let signatureDer: Uint8Array;
  try {
    const outer = expectTag(readTlv(certificateDer, 0), 0x30, "Certificate");
    const tbsTlv = expectTag(readTlv(certificateDer, outer.start, outer.end), 0x30, "TBSCertificate");
    const algorithm = expectTag(readTlv(certificateDer, tbsTlv.end, outer.end), 0x30, "signatureAlgorithm");
    const oid = expectTag(readTlv(certificateDer, algorithm.start, algorithm.end), 0x06, "algorithm OID");
    if (!sameBytes(certificateDer.subarray(oid.start, oid.end), SM2_WITH_SM3_OID)) return undefined;
    tbs = certificateDer.subarray(tbsTlv.at, tbsTlv.end);
    signatureDer = bitStringBytes(certificateDer, algorithm.end, outer.end).bytes;
  } catch {
    return undefined; // not a certificate this code can read: let the general check decide
  }
  try {
    const point = publicPointOfSpki(issuerSpkiDer);
    return sm2Verify(point, sm2Digest(point, tbs), derToRs(signatureDer));
  } catch {
    return false;
  }
}
