import { constants, createHash, generateKeyPairSync, privateEncrypt, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ecdsaDerToRaw, ecdsaRawToDer, rsaSha256DigestInfo, sha256 } from "../../crypto/signature-encoding.js";

describe("signature encodings", () => {
  it("DigestInfo + raw RSA equals a standard RSASSA-PKCS1-v1_5 SHA-256 signature", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const data = Buffer.from("tax data");
    // privateEncrypt with PKCS#1 padding is what CKM_RSA_PKCS does on a token.
    const viaDigestInfo = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, rsaSha256DigestInfo(sha256(data)));
    expect(verify("sha256", data, publicKey, viaDigestInfo)).toBe(true);
    expect(() => rsaSha256DigestInfo(new Uint8Array(20))).toThrow(/32 bytes/);
  });

  it("converts ECDSA r||s to DER and back, including high-bit and leading-zero values", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (let i = 0; i < 50; i++) {
      const data = Buffer.from(`message ${i}`);
      const raw = sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const der = ecdsaRawToDer(raw);
      expect(verify("sha256", data, { key: publicKey, dsaEncoding: "der" }, der)).toBe(true);
      expect(Buffer.from(ecdsaDerToRaw(der, 32))).toEqual(raw);
    }
    const edge = new Uint8Array(64);
    edge[0] = 0x80;
    edge[63] = 1;
    expect(Buffer.from(ecdsaRawToDer(edge)).toString("hex")).toBe(`3026022100${"80".padEnd(64, "0")}020101`);
  });

  it("hashes with SHA-256", () => {
    expect(Buffer.from(sha256(Buffer.from("abc"))).toString("hex")).toBe(createHash("sha256").update("abc").digest("hex"));
  });
});
