/**
 * SM3 hash (GB/T 32905-2016) in plain TypeScript for the extension's service worker, where WebCrypto has no
 * SM3 and Node's crypto is unavailable. Lets the extension hash large documents for SM2 signatures locally,
 * just as large-data.ts does with SHA-256. Incremental; full 64-byte blocks are compressed straight from the
 * caller's buffer, only a trailing partial block is copied.
 */

const BLOCK_BYTES = 64;
/** Bytes compressed per call of compressBlocks: a multiple of the block size. */
const RUN_BYTES = 64 * 1024;
const INITIAL_STATE = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** T_j rotated left by j mod 32, precomputed once: round j adds rotl(T_j, j). */
const ROUND_CONSTANTS = Int32Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

/** Message expansion W[0..67], shared by every hash: compressing never yields, so no two use it at once. */
const expansion = new Int32Array(68);

/**
 * Compresses the whole 64-byte blocks of bytes[offset, end) into `state`. Written for V8's optimiser, as
 * hashing a 32 MB document is the one hot loop of the extension: the state lives in local int32 variables
 * for the whole run (Int32Array, never Uint32Array, whose top-bit values would become doubles), and the
 * rotations are spelled out rather than called.
 */
function compressBlocks(state: Int32Array, bytes: Uint8Array, offset: number, end: number): void {
  const w = expansion;
  const k = ROUND_CONSTANTS;
  let s0 = state[0]!, s1 = state[1]!, s2 = state[2]!, s3 = state[3]!, s4 = state[4]!, s5 = state[5]!, s6 = state[6]!, s7 = state[7]!;
  for (; offset + BLOCK_BYTES <= end; offset += BLOCK_BYTES) {
    for (let i = 0; i < 16; i++) {
      const at = offset + (i << 2);
      w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    }
    for (let j = 16; j < 68; j++) {
      const x = w[j - 16]! ^ w[j - 9]! ^ ((w[j - 3]! << 15) | (w[j - 3]! >>> 17));
      // P1(x) ^ rotl(W[j-13], 7) ^ W[j-6]
      w[j] = x ^ ((x << 15) | (x >>> 17)) ^ ((x << 23) | (x >>> 9)) ^ ((w[j - 13]! << 7) | (w[j - 13]! >>> 25)) ^ w[j - 6]!;
    }
    let a = s0, b = s1, c = s2, d = s3, e = s4, f = s5, g = s6, h = s7;
    // Rounds 0-15 and 16-63 differ only in FF and GG; two loops keep that choice out of the hot path.
    for (let j = 0; j < 16; j++) {
      const a12 = (a << 12) | (a >>> 20);
      const sum = (a12 + e + k[j]!) | 0;
      const ss1 = (sum << 7) | (sum >>> 25);
      const tt1 = ((a ^ b ^ c) + d + (ss1 ^ a12) + (w[j]! ^ w[j + 4]!)) | 0;
      const tt2 = ((e ^ f ^ g) + h + ss1 + w[j]!) | 0;
      d = c; c = (b << 9) | (b >>> 23); b = a; a = tt1;
      // P0(tt2)
      h = g; g = (f << 19) | (f >>> 13); f = e; e = tt2 ^ ((tt2 << 9) | (tt2 >>> 23)) ^ ((tt2 << 17) | (tt2 >>> 15));
    }
    for (let j = 16; j < 64; j++) {
      const a12 = (a << 12) | (a >>> 20);
      const sum = (a12 + e + k[j]!) | 0;
      const ss1 = (sum << 7) | (sum >>> 25);
      const tt1 = (((a & b) | (a & c) | (b & c)) + d + (ss1 ^ a12) + (w[j]! ^ w[j + 4]!)) | 0;
      const tt2 = (((e & f) | (~e & g)) + h + ss1 + w[j]!) | 0;
      d = c; c = (b << 9) | (b >>> 23); b = a; a = tt1;
      h = g; g = (f << 19) | (f >>> 13); f = e; e = tt2 ^ ((tt2 << 9) | (tt2 >>> 23)) ^ ((tt2 << 17) | (tt2 >>> 15));
    }
    s0 ^= a; s1 ^= b; s2 ^= c; s3 ^= d; s4 ^= e; s5 ^= f; s6 ^= g; s7 ^= h;
  }
  state[0] = s0; state[1] = s1; state[2] = s2; state[3] = s3; state[4] = s4; state[5] = s5; state[6] = s6; state[7] = s7;
}

export class Sm3 {
  private readonly state = Int32Array.from(INITIAL_STATE);
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
      compressBlocks(this.state, this.pending, 0, BLOCK_BYTES);
      this.pendingLength = 0;
    }
    const whole = bytes.length - ((bytes.length - offset) % BLOCK_BYTES);
    // In short runs: V8 optimises a function called often far sooner than one long loop (one 20 MB call ran
    // at half the speed of the same bytes in pieces).
    for (; offset < whole; offset += RUN_BYTES) compressBlocks(this.state, bytes, offset, Math.min(whole, offset + RUN_BYTES));
    offset = whole;
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
    for (let i = 0; i < 8; i++) outView.setInt32(i * 4, this.state[i]!);
    this.result = out;
    return out.slice();
  }
}

export function sm3(bytes: Uint8Array): Uint8Array {
  return new Sm3().update(bytes).digest();
}
