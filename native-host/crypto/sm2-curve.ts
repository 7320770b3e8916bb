/**
 * The SM2 recommended curve (GB/T 32918.5 / GM/T 0003.5) on a reviewed, maintained curve library: the
 * parameters below define it on @noble/curves' short-Weierstrass implementation, and this file is only the
 * glue the SM2 scheme (sm2.ts: Z, e = SM3(Z‖M), the r/s equations) and SM2 encryption (sm2-encrypt.ts) call.
 * Secret scalars (encryption's ephemeral k, the demo CA's signing nonce) go through the library's
 * constant-time multiplication; verification, whose inputs are all public, through its faster
 * double-scalar `mulAddUnsafe`.
 */
import { weierstrass, type WeierstrassPoint } from "@noble/curves/abstract/weierstrass.js";
import { invert, mod as modulo } from "@noble/curves/abstract/modular.js";

/** Curve y² = x³ + ax + b over F_p, base point G of prime order n, cofactor 1. */
export const SM2_P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const SM2_A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
export const SM2_B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const SM2_GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const SM2_GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

const Sm2Point = weierstrass({ p: SM2_P, n: SM2_N, h: 1n, a: SM2_A, b: SM2_B, Gx: SM2_GX, Gy: SM2_GY });
type Point = WeierstrassPoint<bigint>;

/** An affine point; the point at infinity never appears in this form (callers get null instead). */
export interface AffinePoint {
  x: bigint;
  y: bigint;
}

export function mod(value: bigint, modulus: bigint): bigint {
  return modulo(value, modulus);
}

/** Modular inverse; the modulus must be prime and the value non-zero. */
export function modInverse(value: bigint, modulus: bigint): bigint {
  if (mod(value, modulus) === 0n) throw new Error("SM2: zero has no modular inverse");
  return invert(value, modulus);
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`);
}

/** Big-endian, left-padded to `length` bytes; throws if the value does not fit. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  if (value < 0n) throw new Error("SM2: cannot encode a negative integer");
  const hex = value.toString(16).padStart(2 * length, "0");
  if (hex.length > 2 * length) throw new Error(`SM2: integer does not fit ${length} bytes`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function toAffine(point: Point): AffinePoint | null {
  if (point.is0()) return null;
  const { x, y } = point.toAffine();
  return { x, y };
}

/** The library's point for an affine one; null when it is not on the curve (or not a field element). */
function fromAffine(point: AffinePoint): Point | null {
  try {
    const candidate = Sm2Point.fromAffine(point);
    candidate.assertValidity();
    return candidate;
  } catch {
    return null;
  }
}

export function isOnCurve(point: AffinePoint): boolean {
  return fromAffine(point) !== null;
}

/** k·G (k taken mod n; constant time); null when k ≡ 0. */
export function multiplyBase(k: bigint): AffinePoint | null {
  const scalar = mod(k, SM2_N);
  return scalar === 0n ? null : toAffine(Sm2Point.BASE.multiply(scalar));
}

/** k·P (k taken mod n; constant time); null when k ≡ 0 or P is not a curve point. */
export function multiplyPoint(point: AffinePoint, k: bigint): AffinePoint | null {
  const scalar = mod(k, SM2_N);
  const base = fromAffine(point);
  return scalar === 0n || !base ? null : toAffine(base.multiply(scalar));
}

/**
 * Public keys seen again get precomputed multiplication tables: a server checks the same CA keys in every
 * chain and the same users' keys at every login, and a precomputed key verifies about 4× faster. Tables cost
 * about a third of a megabyte each, so only the most recent keys seen twice keep one.
 */
const PRECOMPUTE_WINDOW_BITS = 6;
const MAX_REMEMBERED_KEYS = 32;
const rememberedKeys = new Map<string, { point: Point; uses: number }>();

/** The key as a library point, and whether it has tables; null when it is not on the curve. */
function publicKeyPoint(affine: AffinePoint): { point: Point; precomputed: boolean } | null {
  const id = `${affine.x.toString(16)}:${affine.y.toString(16)}`;
  const known = rememberedKeys.get(id);
  if (known) {
    // Most recently used last: the first entry is the one to forget.
    rememberedKeys.delete(id);
    rememberedKeys.set(id, known);
    if (++known.uses === 2) known.point.precompute(PRECOMPUTE_WINDOW_BITS);
    return { point: known.point, precomputed: true };
  }
  const point = fromAffine(affine);
  if (!point) return null;
  rememberedKeys.set(id, { point, uses: 1 });
  if (rememberedKeys.size > MAX_REMEMBERED_KEYS) rememberedKeys.delete(rememberedKeys.keys().next().value!);
  return { point, precomputed: false };
}

/** s·G + t·P for public scalars (signature verification): not constant time; null at infinity. */
export function multiplyBaseAndAdd(s: bigint, t: bigint, point: AffinePoint): AffinePoint | null {
  const key = publicKeyPoint(point);
  if (!key) return null;
  const [sG, tP] = [mod(s, SM2_N), mod(t, SM2_N)];
  // With tables, two separate multiplications beat the shared doubling chain of mulAddUnsafe.
  const sum = key.precomputed ? Sm2Point.BASE.multiplyUnsafe(sG).add(key.point.multiplyUnsafe(tP)) : Sm2Point.BASE.mulAddUnsafe(sG, key.point, tP);
  return toAffine(sum);
}
