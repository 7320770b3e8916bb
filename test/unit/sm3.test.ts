/**
 * The extension's pure-TypeScript SM3 (extension/shared/sm3.ts) against the GB/T 32905 examples and
 * against Node's OpenSSL-backed createHash("sm3") for many lengths, chunkings and one large buffer.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Sm3, sm3 } from "../../extension/shared/sm3.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const nodeSm3 = (bytes: Uint8Array): string => createHash("sm3").update(bytes).digest("hex");

/** Deterministic pseudo-random integers so a failure is reproducible. */
function seededRandom(seed: number): (limit: number) => number {
  let state = seed >>> 0;
  return (limit) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % limit;
  };
}

describe("SM3 (extension, pure TypeScript)", () => {
  it("matches the GB/T 32905 examples", () => {
    expect(hex(sm3(new TextEncoder().encode("abc")))).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    expect(hex(sm3(new TextEncoder().encode("abcd".repeat(16))))).toBe("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  });

  it("matches Node for every length 0..300, in one piece and in random chunks", () => {
    const random = seededRandom(32905);
    for (let length = 0; length <= 300; length++) {
      const data = randomBytes(length);
      const expected = nodeSm3(data);
      expect(hex(sm3(data)), `length ${length}`).toBe(expected);
      const hash = new Sm3();
      for (let offset = 0; offset < length; ) {
        const size = Math.min(length - offset, random(140));
        hash.update(data.subarray(offset, offset + size));
        offset += size;
      }
      expect(hex(hash.digest()), `chunked length ${length}`).toBe(expected);
    }
  });

  it("handles byte-at-a-time and empty updates", () => {
    const data = randomBytes(200);
    const hash = new Sm3().update(new Uint8Array(0));
    for (const byte of data) hash.update(Uint8Array.of(byte)).update(new Uint8Array(0));
    expect(hex(hash.digest())).toBe(nodeSm3(data));
  });

  it("matches Node on an 8 MB buffer, also hashed from unaligned offsets of a larger buffer", () => {
    const backing = randomBytes(8 * 1024 * 1024 + 3);
    const data = backing.subarray(3);
    expect(hex(sm3(data))).toBe(nodeSm3(data));
    const hash = new Sm3();
    for (let offset = 0; offset < data.length; offset += 1_000_003) hash.update(data.subarray(offset, offset + 1_000_003));
    expect(hex(hash.digest())).toBe(nodeSm3(data));
  });

  it("finalizes once: digest() is repeatable, update() afterwards throws", () => {
    const hash = new Sm3().update(new TextEncoder().encode("abc"));
    const first = hash.digest();
    first.fill(0);
    expect(hex(hash.digest())).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    expect(() => hash.update(new Uint8Array(1))).toThrow(/after digest/);
  });
});
