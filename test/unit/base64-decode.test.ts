/** The page's one-pass base64 check-and-decode for large documents (native codec or atob fallback). */
import { describe, expect, it } from "vitest";
import { base64ToBytes, concatenationToBase64, decodeCanonicalBase64 } from "../../extension/shared/base64.js";

describe("decodeCanonicalBase64", () => {
  it("decodes canonical padded base64 to exactly its bytes", () => {
    for (const bytes of [[], [0x41], [0x41, 0x42], [0x41, 0x42, 0x43], [0, 255, 128, 7, 9]]) {
      const text = Buffer.from(bytes).toString("base64");
      expect(Array.from(decodeCanonicalBase64(text)!)).toEqual(bytes);
    }
    expect(decodeCanonicalBase64("")!.length).toBe(0);
  });

  it("refuses what the schemas refuse: missing padding, whitespace, foreign characters, misplaced '='", () => {
    for (const text of ["QQ", "QUI", "QU I=", "QUJD\n", "QUJ-", "Q=JD", "QUJD====", "QUJD=", "  QUJD", "QQ=="+"=", "QUJ*", "QR==", "QUJ="]) {
      expect(decodeCanonicalBase64(text), JSON.stringify(text)).toBeNull();
    }
    expect(() => base64ToBytes("QU I=")).toThrow(TypeError);
  });

  it("handles megabytes in one pass and refuses one bad character anywhere in them", () => {
    const bytes = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const text = Buffer.from(bytes).toString("base64");
    // Compared as buffers: a deep toEqual walks 3 MB element by element and takes seconds on a busy machine.
    expect(Buffer.from(decodeCanonicalBase64(text)!).equals(Buffer.from(bytes))).toBe(true);
    const middle = text.length / 2;
    expect(decodeCanonicalBase64(text.slice(0, middle) + "!" + text.slice(middle + 1))).toBeNull();
  });
});

describe("decodeCanonicalBase64 into a lent buffer", () => {
  it("writes into the buffer it is lent, of exactly the decoded size", () => {
    const spare = new ArrayBuffer(16).slice(0);
    new Uint8Array(spare).fill(0xee);
    let asked = -1;
    const bytes = decodeCanonicalBase64("QUJDRA==", (size) => {
      asked = size;
      return new Uint8Array(spare, 0, size);
    })!;
    expect(asked).toBe(4);
    expect(bytes.buffer).toBe(spare);
    expect(Array.from(bytes)).toEqual([0x41, 0x42, 0x43, 0x44]);
    expect(decodeCanonicalBase64("QUJD RA=", (size) => new Uint8Array(spare, 0, size))).toBeNull();
  });
});

describe("concatenationToBase64", () => {
  const bytesOf = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 37 + seed * 101) & 0xff);

  it("equals the base64 of the joined pieces for every length and carry combination", () => {
    for (let a = 0; a <= 5; a++) for (let b = 0; b <= 7; b++) for (let c = 0; c <= 4; c++) {
      const pieces = [bytesOf(a, 1), bytesOf(b, 2), bytesOf(c, 3)];
      const expected = Buffer.concat(pieces).toString("base64");
      expect(concatenationToBase64(pieces), `${a} ${b} ${c}`).toBe(expected);
      // The middle piece with its own base64 known: reused or not, the result is the same.
      const known = { bytes: pieces[1]!, base64: Buffer.from(pieces[1]!).toString("base64") };
      expect(concatenationToBase64([pieces[0]!, known, pieces[2]!]), `${a} ${b} ${c} known`).toBe(expected);
    }
  });

  it("reuses a piece's own text only where the piece starts a 3-byte group of the whole", () => {
    const middle = bytesOf(6, 9);
    // A stand-in text shows whether the piece's base64 was reused rather than encoded again.
    const marked = { bytes: middle, base64: "MARKMARK" };
    expect(concatenationToBase64([bytesOf(3, 1), marked])).toBe(Buffer.from(bytesOf(3, 1)).toString("base64") + "MARKMARK");
    // Off a boundary (one byte before it) the text cannot be used: the bytes are encoded.
    const offBoundary = concatenationToBase64([bytesOf(1, 1), marked]);
    expect(offBoundary).not.toContain("MARK");
    expect(offBoundary).toBe(Buffer.concat([bytesOf(1, 1), middle]).toString("base64"));
  });
});
