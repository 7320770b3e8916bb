/**
 * SubjectPublicKeyInfo (DER) for the key pairs a USB key generates, built from what the key returns (SKF's
 * ECCPUBLICKEYBLOB / RSAPUBLICKEYBLOB, PKCS#11's CKA_EC_POINT / CKA_MODULUS), and the test whether two such
 * structures carry the same key: a certificate is written into a container only when it does.
 */
import { derElement, derUnsignedInteger } from "../protocol/der.js";
import { publicPointOfSpki } from "./sm2-certificate.js";

const ID_EC_PUBLIC_KEY = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
const SM2_CURVE = Uint8Array.of(0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d);
const RSA_ENCRYPTION = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01);
const DER_NULL = Uint8Array.of(0x05, 0x00);

function bitString(content: Uint8Array): Uint8Array {
  return derElement(0x03, Uint8Array.of(0), content);
}

/** An SM2 public key (04‖x‖y) as id-ecPublicKey on the SM2 curve, the form 一证通 certificates carry. */
export function sm2PublicKeyInfo(point: Uint8Array): Uint8Array {
  if (point.length !== 65 || point[0] !== 0x04) throw new RangeError("an SM2 public key is 04‖x‖y (65 bytes)");
  return derElement(0x30, derElement(0x30, ID_EC_PUBLIC_KEY, SM2_CURVE), bitString(point));
}

/** An RSA public key from its big-endian modulus and exponent. */
export function rsaPublicKeyInfo(modulus: Uint8Array, exponent: Uint8Array): Uint8Array {
  const rsaPublicKey = derElement(0x30, derUnsignedInteger(modulus), derUnsignedInteger(exponent));
  return derElement(0x30, derElement(0x30, RSA_ENCRYPTION, DER_NULL), bitString(rsaPublicKey));
}

/**
 * Whether two SubjectPublicKeyInfos hold the same key. The key bits are compared, not the whole structure:
 * vendors name SM2 keys with id-ecPublicKey or with the SM2 algorithm OID itself.
 */
export function samePublicKey(a: Uint8Array, b: Uint8Array): boolean {
  try {
    return Buffer.compare(publicPointOfSpki(a), publicPointOfSpki(b)) === 0;
  } catch {
    return false;
  }
}
