/**
 * The encryption key pair a CA's key-management centre (KMC) sends, in one parsed form whichever encoding
 * carried it (GM/T 0016 ENVELOPEDKEYBLOB: enveloped-key-blob.ts; GM/T 0009 SM2EnvelopedKey:
 * enveloped-key-der.ts), and the checks every such pair must pass before a key or the host touches it.
 *
 * What is inside (GM/T 0014's double certificates): d, the encryption key's SM2 scalar, SM4-ECB-encrypted
 * (no padding) under a fresh 16-byte SM4 key; that SM4 key SM2-encrypted to the container's SIGNING key.
 */
import { badRequest } from "../protocol/errors.js";
import type { Sm2CipherParts } from "./sm2-cipher.js";
import { parsePublicPoint } from "./sm2-digest.js";
import { bytesToBigInt, isOnCurve } from "./sm2-params.js";

export interface EnvelopedKeyPair {
  /** SGD_SM4_ECB in a blob; 1.2.156.10197.1.104(.1) in DER. The only one GM/T 0016 keys must support. */
  symmetricAlgorithm: "SM4-ECB";
  /** The encryption key's public point 04‖x‖y (65 bytes). */
  publicKey: Uint8Array;
  /** SM4-ECB(d): 32 bytes. */
  encryptedPrivateKey: Uint8Array;
  /**
   * Some producers encrypt the whole 64-byte field (32 zero bytes ‖ d) instead of d alone. ECB encrypts each
   * block on its own, so the second half is SM4-ECB(d) either way; this is the first half, SM4-ECB(0³²) (two
   * equal blocks), kept so that re-encoding gives back the producer's bytes. Absent when the field began with zeros.
   */
  encryptedPrivateKeyHigh?: Uint8Array;
  /** The 16-byte SM4 key, SM2-encrypted to the container's signing public key. */
  keyCipher: Sm2CipherParts;
}

export const SM4_KEY_BYTES = 16;
const COORDINATE_BYTES = 32;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

function expectLength(bytes: Uint8Array, length: number, field: string): void {
  if (bytes.length !== length) throw badRequest(`enveloped key: ${field} must be ${length} bytes, got ${bytes.length}`);
}

/** The strict checks of the parsed form; throws badRequest naming the field. Returns the pair for chaining. */
export function checkEnvelopedKeyPair(pair: EnvelopedKeyPair): EnvelopedKeyPair {
  if (pair.symmetricAlgorithm !== "SM4-ECB") throw badRequest(`enveloped key: symmetric algorithm ${String(pair.symmetricAlgorithm)} is not supported (SM4-ECB only)`);
  expectLength(pair.publicKey, 65, "the public key (04‖x‖y)");
  if (!parsePublicPoint(pair.publicKey)) throw badRequest("enveloped key: the public key is not a point on the SM2 curve");
  expectLength(pair.encryptedPrivateKey, 32, "the encrypted private key");
  const high = pair.encryptedPrivateKeyHigh;
  if (high) {
    expectLength(high, 32, "the encrypted private key's first half");
    if (!sameBytes(high.subarray(0, 16), high.subarray(16))) throw badRequest("enveloped key: the encrypted private key's first half is neither zeros nor SM4-ECB of zeros");
  }
  const { x, y, hash, cipher } = pair.keyCipher;
  expectLength(x, COORDINATE_BYTES, "the key cipher's C1 x");
  expectLength(y, COORDINATE_BYTES, "the key cipher's C1 y");
  expectLength(hash, 32, "the key cipher's hash (C3)");
  expectLength(cipher, SM4_KEY_BYTES, "the key cipher's C2 (an SM4 key)");
  if (!isOnCurve({ x: bytesToBigInt(x), y: bytesToBigInt(y) })) throw badRequest("enveloped key: the key cipher's C1 is not a point on the SM2 curve");
  return pair;
}

/** A 256-bit number in a wider field, right-aligned: the leading bytes must be zero. */
export function rightAligned(field: Uint8Array, width: number, name: string): Uint8Array {
  const padding = field.length - width;
  if (padding < 0 || field.subarray(0, padding).some((byte) => byte !== 0)) {
    throw badRequest(`enveloped key: ${name} must be a ${width * 8}-bit number right-aligned in its ${field.length}-byte field`);
  }
  return field.slice(padding);
}

/** The field's value left-padded with zeros to `width` bytes (the inverse of rightAligned). */
export function padLeft(value: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(width);
  out.set(value, width - value.length);
  return out;
}
