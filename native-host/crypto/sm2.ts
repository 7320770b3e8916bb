/**
 * SM2 digital signatures (GB/T 32918.2 / GM/T 0003.2) on the recommended curve, plus the r‖s ⇄ DER
 * encodings. Node's crypto hashes SM3 but signs SM2-curve keys with plain ECDSA, so the SM2 scheme itself
 * (Z value, e = SM3(Z‖M), the r/s equations) lives here. Verification is what the host relies on;
 * sm2Sign exists for the demo CA and token provisioning only.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type AffinePoint,
  SM2_A, SM2_B, SM2_GX, SM2_GY, SM2_N,
  bigIntToBytes, bytesToBigInt, isOnCurve, mod, modInverse, multiplyBase, multiplyBaseAndAdd,
} from "./sm2-curve.js";
import { concatBytes } from "../../protocol/der.js";
import { ecdsaDerToRaw, ecdsaRawToDer } from "./signature-encoding.js";

export { SM2_A, SM2_B, SM2_GX, SM2_GY, SM2_N, SM2_P } from "./sm2-curve.js";

/** The distinguishing identifier every SM2 implementation uses when none is agreed. */
export const SM2_DEFAULT_ID = "1234567812345678";

export interface Sm2Signature {
  r: bigint;
  s: bigint;
}

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
function parsePublicPoint(encoded: Uint8Array): AffinePoint | null {
  if (encoded.length !== 1 + 2 * COORDINATE_BYTES || encoded[0] !== 0x04) return null;
  const point = {
    x: bytesToBigInt(encoded.subarray(1, 1 + COORDINATE_BYTES)),
    y: bytesToBigInt(encoded.subarray(1 + COORDINATE_BYTES)),
  };
  return isOnCurve(point) ? point : null;
}

function requirePublicPoint(encoded: Uint8Array): AffinePoint {
  const point = parsePublicPoint(encoded);
  if (!point) throw new Error("SM2: public key must be a 65-byte uncompressed point (04‖x‖y) on the SM2 curve");
  return point;
}

function encodePoint(point: AffinePoint): Uint8Array {
  const out = new Uint8Array(1 + 2 * COORDINATE_BYTES);
  out[0] = 0x04;
  out.set(bigIntToBytes(point.x, COORDINATE_BYTES), 1);
  out.set(bigIntToBytes(point.y, COORDINATE_BYTES), 1 + COORDINATE_BYTES);
  return out;
}

/** Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA), ENTL being the ID's length in bits as 2 bytes big-endian. */
export function sm2Z(publicKeyPoint: Uint8Array, id: Uint8Array | string = SM2_DEFAULT_ID): Uint8Array {
  const point = requirePublicPoint(publicKeyPoint);
  const identifier = idBytes(id);
  if (identifier.length > MAX_ID_BYTES) throw new Error(`SM2: ID longer than ${MAX_ID_BYTES} bytes`);
  const entl = Uint8Array.of((identifier.length * 8) >> 8, (identifier.length * 8) & 0xff);
  const coordinates = [SM2_A, SM2_B, SM2_GX, SM2_GY, point.x, point.y].map((v) => bigIntToBytes(v, COORDINATE_BYTES));
  return sm3(entl, identifier, ...coordinates);
}

/** e = SM3(Z‖M): the value that is actually signed and verified. */
export function sm2Digest(publicKeyPoint: Uint8Array, message: Uint8Array, id: Uint8Array | string = SM2_DEFAULT_ID): Uint8Array {
  return sm3(sm2Z(publicKeyPoint, id), message);
}

function digestToScalar(e: Uint8Array): bigint {
  if (e.length !== 32) throw new Error(`SM2: e must be a 32-byte SM3 digest, got ${e.length} bytes`);
  return bytesToBigInt(e);
}

function toSignature(signature: Sm2Signature | Uint8Array): Sm2Signature | null {
  if (!(signature instanceof Uint8Array)) return signature;
  if (signature.length !== 2 * COORDINATE_BYTES) return null;
  return { r: bytesToBigInt(signature.subarray(0, 32)), s: bytesToBigInt(signature.subarray(32)) };
}

/** Full GB/T 32918.2 §7 verification. Returns false for a bad key or signature; throws only if e is not 32 bytes. */
export function sm2Verify(publicKeyPoint: Uint8Array, e: Uint8Array, signature: Sm2Signature | Uint8Array): boolean {
  const eScalar = digestToScalar(e);
  const point = parsePublicPoint(publicKeyPoint);
  const sig = toSignature(signature);
  if (!point || !sig) return false;
  const { r, s } = sig;
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return false;
  const t = (r + s) % SM2_N;
  if (t === 0n) return false;
  const sum = multiplyBaseAndAdd(s, t, point);
  if (!sum) return false;
  return (eScalar + sum.x) % SM2_N === r;
}

function privateScalar(d: bigint | Uint8Array): bigint {
  const value = typeof d === "bigint" ? d : d.length === 32 ? bytesToBigInt(d) : -1n;
  // d = n-1 is excluded because the signature divides by 1 + d.
  if (value < 1n || value > SM2_N - 2n) throw new Error("SM2: private key must be 32 bytes / an integer in [1, n-2]");
  return value;
}

export function sm2PublicFromPrivate(d: bigint | Uint8Array): Uint8Array {
  return encodePoint(multiplyBase(privateScalar(d))!);
}

function randomNonce(): bigint {
  for (;;) {
    const k = bytesToBigInt(randomBytes(32));
    if (k >= 1n && k < SM2_N) return k;
  }
}

/** One signing attempt with nonce k: r‖s, or the reason k is unusable and another must be drawn. */
function signWithNonce(d: bigint, inverseOnePlusD: bigint, e: bigint, k: bigint): Uint8Array | string {
  const r = (e + multiplyBase(k)!.x) % SM2_N;
  if (r === 0n) return "r = 0";
  if (r + k === SM2_N) return "r + k = n";
  const s = mod(inverseOnePlusD * (k - r * d), SM2_N);
  if (s === 0n) return "s = 0";
  return concatBytes(bigIntToBytes(r, 32), bigIntToBytes(s, 32));
}

/**
 * GB/T 32918.2 §6 signing; returns r‖s (64 bytes). k·G is the curve library's constant-time multiplication, the
 * rest plain bigint arithmetic: it signs for the demo CA and provisioning, never with a user's key (keys sign on the key).
 * `fixedK` is for reproducing published test vectors; it throws instead of retrying when k is unusable.
 */
export function sm2Sign(d: bigint | Uint8Array, e: Uint8Array, fixedK?: bigint): Uint8Array {
  const dScalar = privateScalar(d);
  const eScalar = digestToScalar(e);
  const inverseOnePlusD = modInverse(1n + dScalar, SM2_N);
  if (fixedK !== undefined && (fixedK < 1n || fixedK >= SM2_N)) throw new Error("SM2: k must be in [1, n-1]");
  for (;;) {
    const attempt = signWithNonce(dScalar, inverseOnePlusD, eScalar, fixedK ?? randomNonce());
    if (typeof attempt !== "string") return attempt;
    if (fixedK !== undefined) throw new Error(`SM2: the given k yields ${attempt}`);
  }
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
