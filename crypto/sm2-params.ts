/**
 * The SM2 recommended curve's parameters (GB/T 32918.5 / GM/T 0003.5) and the integer ⇄ byte conversions SM2
 * uses, with no curve library behind them: signing on a key only needs Z = SM3(…‖a‖b‖G‖P), and the host must
 * not load curve arithmetic (sm2-curve.ts) to answer a browser that is only listing or signing.
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

/** Whether (x, y) are field elements satisfying the curve equation: a public key's check, no arithmetic on points. */
export function isOnCurve(point: AffinePoint): boolean {
  const { x, y } = point;
  if (x < 0n || x >= SM2_P || y < 0n || y >= SM2_P) return false;
  return (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P === 0n;
}
