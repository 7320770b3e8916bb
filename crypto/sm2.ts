/**
 * SM2 digital signatures (GB/T 32918.2 / GM/T 0003.2) on the recommended curve: verification, which the host
 * and the server kit rely on, and signing, for the demo CA and token provisioning only. Z, e = SM3(Z‖M) and the
 * r‖s ⇄ DER encodings live in sm2-digest.ts (re-exported here) so that signing on a key never loads the curve.
 */
import { randomBytes } from "node:crypto";
import { mod, modInverse, multiplyBase, multiplyBaseAndAdd } from "./sm2-curve.js";
import { bigIntToBytes, bytesToBigInt, SM2_N, type AffinePoint } from "./sm2-params.js";
import { parsePublicPoint } from "./sm2-digest.js";
import { concatBytes } from "../protocol/der.js";

export { SM2_A, SM2_B, SM2_GX, SM2_GY, SM2_N, SM2_P } from "./sm2-params.js";
export { derToRs, rsToDer, SM2_DEFAULT_ID, sm2Digest, sm2Z, sm3 } from "./sm2-digest.js";

export interface Sm2Signature {
  r: bigint;
  s: bigint;
}

const COORDINATE_BYTES = 32;

function encodePoint(point: AffinePoint): Uint8Array {
  const out = new Uint8Array(1 + 2 * COORDINATE_BYTES);
  out[0] = 0x04;
  out.set(bigIntToBytes(point.x, COORDINATE_BYTES), 1);
  out.set(bigIntToBytes(point.y, COORDINATE_BYTES), 1 + COORDINATE_BYTES);
  return out;
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

