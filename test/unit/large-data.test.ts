/** Large documents in the extension: the page's reusable decode buffer and prepareLargeData's refusals and results. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ReusableBuffer } from "../../extension/page/reusable-buffer.js";
import { prepareLargeData, SHA256, SM3 } from "../../extension/shared/large-data.js";
import { HASH_IN_EXTENSION_BYTES } from "../../extension/shared/limits.js";

describe("ReusableBuffer", () => {
  it("lends the spare buffer again once it is given back, and a fresh one while it is out", () => {
    const pool = new ReusableBuffer();
    const first = pool.take(1000);
    const meanwhile = pool.take(1000);
    expect(meanwhile.buffer).not.toBe(first.buffer);
    pool.giveBack(first);
    const again = pool.take(800);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(800);
    // Out again: a concurrent caller never shares it.
    expect(pool.take(800).buffer).not.toBe(first.buffer);
  });

  it("keeps the larger buffer, gives a fresh one when the spare is too small", () => {
    const pool = new ReusableBuffer();
    const small = pool.take(100);
    const large = pool.take(5000);
    pool.giveBack(large);
    pool.giveBack(small);
    expect(pool.spareBytes).toBe(5000);
    expect(pool.take(6000).buffer).not.toBe(large.buffer);
    expect(pool.take(4000).buffer).toBe(large.buffer);
  });

  it("drops the spare after a while without large documents", async () => {
    const pool = new ReusableBuffer(30);
    pool.giveBack(pool.take(4096));
    expect(pool.spareBytes).toBe(4096);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(pool.spareBytes).toBe(0);
  });
});

describe("prepareLargeData", () => {
  const content = Buffer.alloc(HASH_IN_EXTENSION_BYTES + 5, 0x42);
  const data = content.toString("base64");

  it("replaces large data by the key's digest and names the hash", async () => {
    const sha = await prepareLargeData({ certificateId: "A:01", data, format: "pkcs7-detached" as const }, SHA256);
    expect(sha.request).toEqual({ certificateId: "A:01", format: "pkcs7-detached", hashAlgorithm: "SHA-256", digest: createHash("sha256").update(content).digest("base64") });
    const sm3 = await prepareLargeData({ certificateId: "A:01", data, format: "pkcs7-attached" as const, cmsProfile: "gm" }, SM3);
    expect(sm3.request).toMatchObject({ format: "pkcs7-detached", hashAlgorithm: "SM3", cmsProfile: "gm", digest: createHash("sm3").update(content).digest("base64") });
  });

  it("refuses a hash the key does not use, as the host does for small data, instead of quietly using the key's", async () => {
    await expect(prepareLargeData({ certificateId: "A:01", data, format: "pkcs7-detached" as const, hashAlgorithm: "SM3" as const }, SHA256))
      .rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringContaining("hashAlgorithm") });
    await expect(prepareLargeData({ certificateId: "A:01", data, format: "pkcs7-attached" as const, hashAlgorithm: "SHA-256" as const }, SM3))
      .rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("leaves small data alone", async () => {
    const small = { certificateId: "A:01", data: "QUJD", format: "pkcs7-detached" as const, hashAlgorithm: "SM3" as const };
    expect((await prepareLargeData(small, SHA256)).request).toBe(small);
  });
});
