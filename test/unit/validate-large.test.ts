/** Validation of large documents: linear, never recursive, BAD_REQUEST naming the limit (issue: 32 MB pages). */
import { describe, expect, it } from "vitest";
import { base64, isBase64 } from "../../protocol/validate.js";
import { pageMethodParams } from "../../extension/shared/page-protocol.js";

const MiB = 1024 * 1024;

describe("base64 validation of large documents", () => {
  const valid64MiB = Buffer.alloc(48 * MiB, 0xa7).toString("base64"); // 64 MiB of base64 text

  it("accepts a 64 MiB base64 string without overflowing the stack", () => {
    expect(valid64MiB.length).toBe(64 * MiB);
    expect(isBase64(valid64MiB)).toBe(true);
    expect(base64(48 * MiB).parse(valid64MiB, "data")).toBe(valid64MiB);
  });

  it("rejects a 64 MiB string with one bad character at the end or in the middle", () => {
    expect(isBase64(valid64MiB.slice(0, -1) + "!")).toBe(false);
    const middle = valid64MiB.length / 2;
    expect(isBase64(valid64MiB.slice(0, middle) + "=" + valid64MiB.slice(middle + 1))).toBe(false);
    expect(() => base64(48 * MiB).parse(valid64MiB.slice(0, -1) + "*", "data")).toThrow(/data: not valid base64/);
  });

  it("accepts padding only at the end and only whole groups", () => {
    for (const good of ["", "QQ==", "QUI=", "QUJD", "QUJDRA=="]) expect(isBase64(good)).toBe(true);
    for (const bad of ["Q", "QQ=", "Q===", "====", "QQ==QUJD", "QU=D", "QUJD\n", "QUJ\u00e9"]) expect(isBase64(bad)).toBe(false);
  });

  it("accepts only zero bits under the padding, as every encoder writes them", () => {
    for (let byte = 0; byte < 256; byte++) {
      expect(isBase64(Buffer.from([byte]).toString("base64"))).toBe(true);
      expect(isBase64(Buffer.from([0x41, byte]).toString("base64"))).toBe(true);
    }
    expect(isBase64("QR==")).toBe(false);
    expect(isBase64("QUJ=")).toBe(false);
    expect(isBase64("QQ==")).toBe(true);
    expect(isBase64("QUI=")).toBe(true);
  });

  it("gives a page's 32 MiB + 1 byte document BAD_REQUEST naming the limit, and takes exactly 32 MiB", () => {
    const certificateId = "YZT0000000000001:0101";
    const exact = Buffer.alloc(32 * MiB, 1).toString("base64");
    expect(() => pageMethodParams.sign.parse({ certificateId, format: "pkcs7-attached", data: exact }, "params")).not.toThrow();
    const over = Buffer.alloc(32 * MiB + 1, 1).toString("base64");
    expect(() => pageMethodParams.sign.parse({ certificateId, format: "pkcs7-attached", data: over }, "params")).toThrow(
      expect.objectContaining({ code: "BAD_REQUEST", message: expect.stringContaining(`larger than ${32 * MiB} bytes`) }),
    );
  });
});
