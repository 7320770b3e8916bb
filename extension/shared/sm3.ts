/**
 * SM3 hash (GB/T 32905-2016) in plain TypeScript for the extension's service worker, where WebCrypto has no
 * SM3 and Node's crypto is unavailable. Lets the extension hash large documents for SM2 signatures locally,
 * just as large-data.ts does with SHA-256. Incremental; full 64-byte blocks are compressed straight from the
 * caller's buffer, only a trailing partial block is copied.
 */

const BLOCK_BYTES = 64;
const INITIAL_STATE = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** T_j rotated left by j mod 32, precomputed once: round j adds rotl(T_j, j). */
const ROUND_CONSTANTS = Uint32Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

const p0 = (x: number): number => x ^ rotl(x, 9) ^ rotl(x, 17);
const p1 = (x: number): number => x ^ rotl(x, 15) ^ rotl(x, 23);

export class Sm3 {
  private readonly state = Uint32Array.from(INITIAL_STATE);
  /** Message expansion W[0..67]; reused for every block. */
  private readonly w = new Int32Array(68);
  private readonly pending = new Uint8Array(BLOCK_BYTES);
  private pendingLength = 0;
  private totalBytes = 0;
  private result: Uint8Array | null = null;

  update(bytes: Uint8Array): this {
    if (this.result) throw new Error("Sm3: update() after digest()");
    this.totalBytes += bytes.length;
    let offset = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(BLOCK_BYTES - this.pendingLength, bytes.length);
      this.pending.set(bytes.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      offset = take;
      if (this.pendingLength < BLOCK_BYTES) return this;
      this.compress(this.pending, 0);
      this.pendingLength = 0;
    }
    for (; offset + BLOCK_BYTES <= bytes.length; offset += BLOCK_BYTES) this.compress(bytes, offset);
    this.pending.set(bytes.subarray(offset), 0);
    this.pendingLength = bytes.length - offset;
    return this;
  }

  /** Finishes the hash (32 bytes). Further update() calls throw; digest() again returns the same value. */
  digest(): Uint8Array {
    if (this.result) return this.result.slice();
    const bitLengthHigh = Math.floor(this.totalBytes / 0x20000000);
    const bitLengthLow = (this.totalBytes * 8) >>> 0;
    const padding = new Uint8Array(this.pendingLength < 56 ? 64 - this.pendingLength : 128 - this.pendingLength);
    padding[0] = 0x80;
    const view = new DataView(padding.buffer);
    view.setUint32(padding.length - 8, bitLengthHigh);
    view.setUint32(padding.length - 4, bitLengthLow);
    this.update(padding);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, this.state[i]!);
    this.result = out;
    return out.slice();
  }

  private compress(block: Uint8Array, offset: number): void {
    const w = this.w;
    for (let i = 0; i < 16; i++) {
      const at = offset + i * 4;
      w[i] = (block[at]! << 24) | (block[at + 1]! << 16) | (block[at + 2]! << 8) | block[at + 3]!;
    }
    for (let j = 16; j < 68; j++) {
      w[j] = p1(w[j - 16]! ^ w[j - 9]! ^ rotl(w[j - 3]!, 15)) ^ rotl(w[j - 13]!, 7) ^ w[j - 6]!;
    }
    const state = this.state;
    let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
    let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
    // Rounds 0-15 and 16-63 differ only in FF and GG; two loops keep that choice out of the hot path.
    for (let j = 0; j < 16; j++) {
      const a12 = rotl(a, 12);
      const ss1 = rotl((a12 + e + ROUND_CONSTANTS[j]!) | 0, 7);
      const tt1 = ((a ^ b ^ c) + d + (ss1 ^ a12) + (w[j]! ^ w[j + 4]!)) | 0;
      const tt2 = ((e ^ f ^ g) + h + ss1 + w[j]!) | 0;
      d = c; c = rotl(b, 9); b = a; a = tt1;
      h = g; g = rotl(f, 19); f = e; e = p0(tt2);
    }
    for (let j = 16; j < 64; j++) {
      const a12 = rotl(a, 12);
      const ss1 = rotl((a12 + e + ROUND_CONSTANTS[j]!) | 0, 7);
      const tt1 = (((a & b) | (a & c) | (b & c)) + d + (ss1 ^ a12) + (w[j]! ^ w[j + 4]!)) | 0;
      const tt2 = (((e & f) | (~e & g)) + h + ss1 + w[j]!) | 0;
      d = c; c = rotl(b, 9); b = a; a = tt1;
      h = g; g = rotl(f, 19); f = e; e = p0(tt2);
    }
    state[0] = state[0]! ^ a; state[1] = state[1]! ^ b; state[2] = state[2]! ^ c; state[3] = state[3]! ^ d;
    state[4] = state[4]! ^ e; state[5] = state[5]! ^ f; state[6] = state[6]! ^ g; state[7] = state[7]! ^ h;
  }
}

export function sm3(bytes: Uint8Array): Uint8Array {
  return new Sm3().update(bytes).digest();
}
