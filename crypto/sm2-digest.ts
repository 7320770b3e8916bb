/**
 * What signing with an SM2 key needs from the host (GB/T 32918.2 §5.5, §6.1 A1–A2): Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA),
 * e = SM3(Z‖M), and the r‖s ⇄ DER encodings. No curve arithmetic: the key itself signs e, and verification
 * (sm2.ts) is loaded only when something has to be verified.
 */
import { createHash } from "node:crypto";
import { bigIntToBytes, bytesToBigInt, isOnCurve, SM2_A, SM2_B, SM2_GX, SM2_GY, type AffinePoint } from "./sm2-params.js";
import { ecdsaDerToRaw, ecdsaRawToDer } from "./signature-encoding.js";

/** The distinguishing identifier every SM2 implementation uses when none is agreed. */
export const SM2_DEFAULT_ID = "1234567812345678";

const COORDINATE_BYTES = 32;
const MAX_ID_BYTES = 0xffff >> 3;

/** SM3 over the parts in order. */
export function sm3(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sm3");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

function idBytes(id: Uint8Array | string): Uint8Array {
  return typeof id === "string" ? new TextEncoder().encode(id) : id;
}

/** Parses a 65-byte uncompressed point 04‖x‖y; null if malformed or not on the curve. */
export function parsePublicPoint(encoded: Uint8Array): AffinePoint | null {
  if (encoded.length !== 1 + 2 * COORDINATE_BYTES || encoded[0] !== 0x04) return null;
  const point = {
    x: bytesToBigInt(encoded.subarray(1, 1 + COORDINATE_BYTES)),
    y: bytesToBigInt(encoded.subarray(1 + COORDINATE_BYTES)),
  };
  return isOnCurve(point) ? point : null;
}

/** Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA), ENTL being the ID's length in bits as 2 bytes big-endian. */
export function sm2Z(publicKeyPoint: Uint8Array, id: Uint8Array | string = SM2_DEFAULT_ID): Uint8Array {
  const point = parsePublicPoint(publicKeyPoint);
  if (!point) throw new Error("SM2: public key must be a 65-byte uncompressed point (04‖x‖y) on the SM2 curve");
  const identifier = idBytes(id);
  if (identifier.length > MAX_ID_BYTES) throw new Error(`SM2: ID longer than ${MAX_ID_BYTES} bytes`);
  const entl = Uint8Array.of((identifier.length * 8) >> 8, (identifier.length * 8) & 0xff);
  const coordinates = [SM2_A, SM2_B, SM2_GX, SM2_GY].map((v) => bigIntToBytes(v, COORDINATE_BYTES));
  return sm3(entl, identifier, ...coordinates, publicKeyPoint.subarray(1));
}

/** e = SM3(Z‖M): the value that is actually signed and verified. */
export function sm2Digest(publicKeyPoint: Uint8Array, message: Uint8Array, id: Uint8Array | string = SM2_DEFAULT_ID): Uint8Array {
  return sm3(sm2Z(publicKeyPoint, id), message);
}

/** r‖s (64 bytes) → DER SEQUENCE { INTEGER r, INTEGER s }, the form CMS, X.509 and BJCA's service use. */
export function rsToDer(rs: Uint8Array): Uint8Array {
  if (rs.length !== 64) throw new Error(`SM2: r‖s signature must be 64 bytes, got ${rs.length}`);
  return ecdsaRawToDer(rs);
}

/** DER SEQUENCE { INTEGER r, INTEGER s } → r‖s (64 bytes); throws on anything that is not exactly that. */
export function derToRs(der: Uint8Array): Uint8Array {
  return ecdsaDerToRaw(der, 32);
}
