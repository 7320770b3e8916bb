/**
 * Arithmetic on the SM2 recommended curve (GB/T 32918.5 / GM/T 0003.5): field and scalar helpers, point
 * validation and scalar multiplication in Jacobian coordinates with bigint. It exists because Node's crypto
 * has SM3 but no SM2 signatures; sm2.ts builds the signature scheme on top of these primitives.
 *
 * Nothing here is constant time. That is fine for verification (all inputs are public); signing with it is
 * only acceptable for the project's demo CA and provisioning, never for a real user's key.
 */

/** Curve y² = x³ + ax + b over F_p, base point G of prime order n, cofactor 1. */
export const SM2_P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const SM2_A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
export const SM2_B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const SM2_GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const SM2_GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** An affine point; the point at infinity never appears in this form (callers get null instead). */
export interface AffinePoint {
  x: bigint;
  y: bigint;
}

/** Jacobian (X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 is the point at infinity. */
interface JacobianPoint {
  x: bigint;
  y: bigint;
  z: bigint;
}

const INFINITY: JacobianPoint = { x: 1n, y: 1n, z: 0n };
const WINDOW_BITS = 4;

export function mod(value: bigint, modulus: bigint): bigint {
  const r = value % modulus;
  return r < 0n ? r + modulus : r;
}

/** Modular inverse by the extended Euclidean algorithm; the modulus must be prime and value non-zero. */
export function modInverse(value: bigint, modulus: bigint): bigint {
  let [oldR, r] = [mod(value, modulus), modulus];
  let [oldS, s] = [1n, 0n];
  if (oldR === 0n) throw new Error("SM2: zero has no modular inverse");
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, modulus);
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt(`0x${hex}`);
}

/** Big-endian, left-padded to `length` bytes; throws if the value does not fit. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  if (value < 0n) throw new Error("SM2: cannot encode a negative integer");
  const hex = value.toString(16).padStart(length * 2, "0");
  if (hex.length > length * 2) throw new Error(`SM2: integer does not fit in ${length} bytes`);
  return Uint8Array.from({ length }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

export function isOnCurve(point: AffinePoint): boolean {
  const { x, y } = point;
  if (x < 0n || x >= SM2_P || y < 0n || y >= SM2_P) return false;
  return mod(y * y - (x * x * x + SM2_A * x + SM2_B), SM2_P) === 0n;
}

/** Doubling for a = -3 (dbl-2001-b). */
function double(point: JacobianPoint): JacobianPoint {
  const { x, y, z } = point;
  if (z === 0n || y === 0n) return INFINITY;
  const delta = (z * z) % SM2_P;
  const gamma = (y * y) % SM2_P;
  const beta = (x * gamma) % SM2_P;
  const alpha = (3n * mod(x - delta, SM2_P) * (x + delta)) % SM2_P;
  const x3 = mod(alpha * alpha - 8n * beta, SM2_P);
  const z3 = mod((y + z) * (y + z) - gamma - delta, SM2_P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, SM2_P);
  return { x: x3, y: y3, z: z3 };
}

/** Mixed addition Jacobian + affine (madd-2007-bl); tables hold affine points so every add is the cheap kind. */
function addAffine(p1: JacobianPoint, q: AffinePoint): JacobianPoint {
  if (p1.z === 0n) return { x: q.x, y: q.y, z: 1n };
  const z1z1 = (p1.z * p1.z) % SM2_P;
  const u2 = (q.x * z1z1) % SM2_P;
  const s2 = (q.y * p1.z * z1z1) % SM2_P;
  const h = mod(u2 - p1.x, SM2_P);
  const rr = mod(2n * (s2 - p1.y), SM2_P);
  if (h === 0n) return rr === 0n ? double(p1) : INFINITY;
  const hh = (h * h) % SM2_P;
  const i = 4n * hh;
  const j = (h * i) % SM2_P;
  const v = (p1.x * i) % SM2_P;
  const x3 = mod(rr * rr - j - 2n * v, SM2_P);
  const y3 = mod(rr * (v - x3) - 2n * p1.y * j, SM2_P);
  const z3 = mod((p1.z + h) * (p1.z + h) - z1z1 - hh, SM2_P);
  return { x: x3, y: y3, z: z3 };
}

/** Converts many Jacobian points to affine with a single inversion (Montgomery's trick); none may be infinity. */
function toAffineBatch(points: JacobianPoint[]): AffinePoint[] {
  const prefix: bigint[] = [];
  let running = 1n;
  for (const point of points) {
    prefix.push(running);
    running = (running * point.z) % SM2_P;
  }
  let inverse = modInverse(running, SM2_P);
  const result: AffinePoint[] = new Array<AffinePoint>(points.length);
  for (let i = points.length - 1; i >= 0; i--) {
    const point = points[i]!;
    const zInv = (inverse * prefix[i]!) % SM2_P;
    inverse = (inverse * point.z) % SM2_P;
    const zInv2 = (zInv * zInv) % SM2_P;
    result[i] = { x: (point.x * zInv2) % SM2_P, y: (point.y * zInv2 * zInv) % SM2_P };
  }
  return result;
}

function toAffine(point: JacobianPoint): AffinePoint | null {
  return point.z === 0n ? null : toAffineBatch([point])[0]!;
}

/** [1·P, 2·P, …, 15·P] in affine form for a fixed 4-bit window; entry d-1 is d·P. */
function windowTable(point: AffinePoint): AffinePoint[] {
  const multiples: JacobianPoint[] = [{ x: point.x, y: point.y, z: 1n }];
  for (let d = 2; d < 1 << WINDOW_BITS; d++) multiples.push(addAffine(multiples[d - 2]!, point));
  // Only an invalid point (or order < 16, impossible here) could make a multiple the point at infinity.
  if (multiples.some((m) => m.z === 0n)) throw new Error("SM2: point has small order");
  return toAffineBatch(multiples);
}

let gTable: AffinePoint[] | undefined;
const baseTable = (): AffinePoint[] => (gTable ??= windowTable({ x: SM2_GX, y: SM2_GY }));

/** Σ scalars[i]·points[i] with one shared doubling chain (Straus/Shamir); null for the point at infinity. */
function multiScalarMultiply(terms: { scalar: bigint; table: AffinePoint[] }[]): AffinePoint | null {
  const mask = BigInt((1 << WINDOW_BITS) - 1);
  let acc = INFINITY;
  for (let shift = 256 - WINDOW_BITS; shift >= 0; shift -= WINDOW_BITS) {
    for (let i = 0; i < WINDOW_BITS; i++) acc = double(acc);
    for (const { scalar, table } of terms) {
      const digit = Number((scalar >> BigInt(shift)) & mask);
      if (digit !== 0) acc = addAffine(acc, table[digit - 1]!);
    }
  }
  return toAffine(acc);
}

function checkScalar(scalar: bigint): void {
  if (scalar < 0n || scalar >= 1n << 256n) throw new Error("SM2: scalar must be in [0, 2^256)");
}

/** k·G; null when the result is the point at infinity. */
export function multiplyBase(k: bigint): AffinePoint | null {
  checkScalar(k);
  return multiScalarMultiply([{ scalar: k, table: baseTable() }]);
}

/** k·P for an arbitrary point P (the caller validates P); null for the point at infinity. */
export function multiplyPoint(point: AffinePoint, k: bigint): AffinePoint | null {
  checkScalar(k);
  return multiScalarMultiply([{ scalar: k, table: windowTable(point) }]);
}

/** s·G + t·P, the core of SM2 verification; null for the point at infinity. */
export function multiplyBaseAndAdd(s: bigint, t: bigint, point: AffinePoint): AffinePoint | null {
  checkScalar(s);
  checkScalar(t);
  return multiScalarMultiply([{ scalar: s, table: baseTable() }, { scalar: t, table: windowTable(point) }]);
}
