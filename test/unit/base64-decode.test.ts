/** The page's one-pass base64 check-and-decode for large documents (native codec or atob fallback). */
import { describe, expect, it } from "vitest";
import { base64ToBytes, decodeCanonicalBase64 } from "../../extension/shared/base64.js";

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
    expect(decodeCanonicalBase64(text)).toEqual(bytes);
    const middle = text.length / 2;
    expect(decodeCanonicalBase64(text.slice(0, middle) + "!" + text.slice(middle + 1))).toBeNull();
  });
});
