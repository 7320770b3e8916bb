/**
 * The GM/T 0009 SM2 ciphertext, SM2Cipher ::= SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER,
 * HASH OCTET STRING (C3), CipherText OCTET STRING (C2) }: the one writer of it, for what sm2-encrypt.ts
 * produces, the KMC's enveloped keys (enveloped-key-der.ts) and SKF's ECCCIPHERBLOB handed back as DER.
 * It imports DER helpers only, so the SKF adapter can use it without loading curve arithmetic.
 */
import { derElement, derUnsignedInteger } from "../protocol/der.js";

/** An SM2 ciphertext (GM/T 0003.4) in parts: C1 = (x, y), C3 = hash, C2 = cipher. */
export interface Sm2CipherParts {
  /** C1's coordinates, 32 bytes each, big-endian. */
  x: Uint8Array;
  y: Uint8Array;
  /** C3 = SM3(x2‖M‖y2), 32 bytes. */
  hash: Uint8Array;
  /** C2, as long as the message: 16 bytes for an SM4 key. */
  cipher: Uint8Array;
}

export function sm2CipherToDer(parts: Sm2CipherParts): Uint8Array {
  return derElement(0x30, derUnsignedInteger(parts.x), derUnsignedInteger(parts.y), derElement(0x04, parts.hash), derElement(0x04, parts.cipher));
}
