/**
 * The SM2 recommended curve (GB/T 32918.5 / GM/T 0003.5) on a reviewed, maintained curve library: the
 * parameters (sm2-params.ts) define it on @noble/curves' short-Weierstrass implementation, and this file is only the
 * glue the SM2 scheme (sm2.ts: Z, e = SM3(Z‖M), the r/s equations) and SM2 encryption (sm2-encrypt.ts) call.
 * Secret scalars (encryption's ephemeral k, the demo CA's signing nonce) go through the library's
 * constant-time multiplication; verification, whose inputs are all public, through its faster
 * double-scalar `mulAddUnsafe`.
 *
 * Curve arithmetic is bigint work in JavaScript, worth V8's optimising compiler: each multiplication says so
 * (heavy-compute.ts) when it runs, not this module when it loads. The host's and drivers' key layers import it
 * for checks most of them never make (a certificate's key against a container's), and a host told at its start
 * kept TurboFan on for its whole life: some 8 MB more resident after a thousand signatures.
 */
import { weierstrass, type WeierstrassPoint } from "@noble/curves/abstract/weierstrass.js";
import { invert, mod as modulo } from "@noble/curves/abstract/modular.js";
import { isOnCurve, SM2_A, SM2_B, SM2_GX, SM2_GY, SM2_N, SM2_P, type AffinePoint } from "./sm2-params.js";
import { heavyComputeStarts } from "./heavy-compute.js";

export { bigIntToBytes, bytesToBigInt, isOnCurve, SM2_A, SM2_B, SM2_GX, SM2_GY, SM2_N, SM2_P, type AffinePoint } from "./sm2-params.js";

const Sm2Point = weierstrass({ p: SM2_P, n: SM2_N, h: 1n, a: SM2_A, b: SM2_B, Gx: SM2_GX, Gy: SM2_GY });
type Point = WeierstrassPoint<bigint>;

export function mod(value: bigint, modulus: bigint): bigint {
  return modulo(value, modulus);
}

/** Modular inverse; the modulus must be prime and the value non-zero. */
export function modInverse(value: bigint, modulus: bigint): bigint {
  if (mod(value, modulus) === 0n) throw new Error("SM2: zero has no modular inverse");
  return invert(value, modulus);
}

function toAffine(point: Point): AffinePoint | null {
  if (point.is0()) return null;
  const { x, y } = point.toAffine();
  return { x, y };
}

/** The library's point for an affine one; null when it is not on the curve (or not a field element). */
function fromAffine(point: AffinePoint): Point | null {
  return isOnCurve(point) ? Sm2Point.fromAffine(point) : null;
}

/** k·G (k taken mod n; constant time); null when k ≡ 0. */
export function multiplyBase(k: bigint): AffinePoint | null {
  heavyComputeStarts();
  const scalar = mod(k, SM2_N);
  return scalar === 0n ? null : toAffine(Sm2Point.BASE.multiply(scalar));
}

/** k·P (k taken mod n; constant time); null when k ≡ 0 or P is not a curve point. */
export function multiplyPoint(point: AffinePoint, k: bigint): AffinePoint | null {
  heavyComputeStarts();
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
  heavyComputeStarts();
  const key = publicKeyPoint(point);
  if (!key) return null;
  const [sG, tP] = [mod(s, SM2_N), mod(t, SM2_N)];
  // With tables, two separate multiplications beat the shared doubling chain of mulAddUnsafe.
  const sum = key.precomputed ? Sm2Point.BASE.multiplyUnsafe(sG).add(key.point.multiplyUnsafe(tP)) : Sm2Point.BASE.mulAddUnsafe(sG, key.point, tP);
  return toAffine(sum);
}
