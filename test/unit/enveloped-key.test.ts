/**
 * The KMC's encryption key pair (crypto/enveloped-key.ts): wrapped to a signing key, carried as a GM/T 0016
 * ENVELOPEDKEYBLOB (4- and 8-byte ULONG) or a GM/T 0009 SM2EnvelopedKey, parsed strictly, and opened with a
 * decryption of the key cipher that OpenSSL performs here (as the token would), the scalar checked against
 * the public key. Forged, damaged and foreign inputs are refused with the field named.
 */
import { createCipheriv } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeEnvelopedKeyBlob, encodeSm2EnvelopedKey, openEnvelopedKeyPair, parseEnvelopedKeyPair, sm2CipherToDer, wrapKeyPairFor, type EnvelopedKeyPair,
} from "../../crypto/enveloped-key.js";
import { derElement, readTlv } from "../../protocol/der.js";
import { DER_NULL, derAlgorithmIdentifier } from "../../crypto/der-writer.js";
import { YztError } from "../../protocol/errors.js";
import { openssl, Scratch, sm2TestKey, type Sm2TestKey, expectBadRequest } from "./renewal-fixtures.js";

let scratch: Scratch;
let signKey: Sm2TestKey;

beforeAll(() => {
  scratch = new Scratch();
  signKey = sm2TestKey();
});
afterAll(() => scratch.remove());

/** The token's part, done by OpenSSL: SM2-decrypt the GM/T 0009 DER key cipher with the signing key. */
function decryptWith(key: Sm2TestKey): (der: Uint8Array) => Promise<Uint8Array> {
  return async (der) => {
    const result = openssl(["pkeyutl", "-decrypt", "-inkey", scratch.file("sign.key", key.privatePem), "-in", scratch.file("cipher.der", der), "-out", `${scratch.dir}/sm4.key`]);
    if (!result.ok) throw new Error(`openssl pkeyutl -decrypt: ${result.output}`);
    return scratch.read("sm4.key");
  };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const le32 = (bytes: Uint8Array, at: number) => Buffer.from(bytes).readUInt32LE(at);


describe("a key pair wrapped by the KMC", () => {
  it("opens to the KMC's scalar from a 4-byte-ULONG blob laid out as GM/T 0016 says", async () => {
    const { pair, privateKey } = wrapKeyPairFor(signKey.point);
    const blob = encodeEnvelopedKeyBlob(pair, 4);
    // Offsets as the virtual token's shim reads them (test/virtual-token/shim.c).
    expect(blob.length).toBe(372 + 16);
    expect([le32(blob, 0), le32(blob, 4), le32(blob, 8), le32(blob, 76), le32(blob, 368)]).toEqual([1, 0x401, 256, 256, 16]);
    expect(hex(blob.subarray(12, 44))).toBe("00".repeat(32)); // SM4-ECB(d) right-aligned in cbEncryptedPriKey
    expect(hex(blob.subarray(44, 76))).toBe(hex(pair.encryptedPrivateKey));
    expect(hex(blob.subarray(80, 112)) + hex(blob.subarray(144, 176))).toBe("00".repeat(64));
    expect(hex(blob.subarray(112, 144)) + hex(blob.subarray(176, 208))).toBe(hex(pair.publicKey.subarray(1)));
    const parsed = parseEnvelopedKeyPair(blob);
    expect(parsed).toEqual(pair);
    expect(hex(await openEnvelopedKeyPair(parsed, decryptWith(signKey)))).toBe(hex(privateKey));
  });

  it("re-encodes with an 8-byte ULONG (LP64 SKF libraries) and opens the same", async () => {
    const { pair, privateKey } = wrapKeyPairFor(signKey.point);
    const blob = encodeEnvelopedKeyBlob(pair, 8);
    expect(blob.length).toBe(388 + 5 * 4);
    expect(hex(blob.subarray(0, 16))).toBe("0100000000000000" + "0104000000000000");
    const parsed = parseEnvelopedKeyPair(blob);
    expect(parsed).toEqual(pair);
    expect(hex(encodeEnvelopedKeyBlob(parseEnvelopedKeyPair(encodeEnvelopedKeyBlob(parsed, 4)), 8))).toBe(hex(blob));
    expect(hex(await openEnvelopedKeyPair(parsed, decryptWith(signKey)))).toBe(hex(privateKey));
  });

  it("round-trips through the GM/T 0009 SM2EnvelopedKey and opens the same", async () => {
    const given = sm2TestKey();
    const { pair, privateKey } = wrapKeyPairFor(signKey.point, given.d);
    expect(hex(privateKey)).toBe(hex(given.d));
    expect(hex(pair.publicKey)).toBe(hex(given.point));
    const der = encodeSm2EnvelopedKey(pair);
    const shown = openssl(["asn1parse", "-inform", "DER", "-in", scratch.file("enveloped.der", der)]).output;
    expect(shown).toMatch(/OBJECT\s+:sm4|OBJECT\s+:1\.2\.156\.10197\.1\.104\b/); // symAlgID SM4, no parameters
    expect(shown.match(/BIT STRING/g)).toHaveLength(2);
    const parsed = parseEnvelopedKeyPair(der);
    expect(parsed).toEqual(pair);
    expect(hex(encodeSm2EnvelopedKey(parseEnvelopedKeyPair(encodeEnvelopedKeyBlob(parsed))))).toBe(hex(der));
    expect(hex(await openEnvelopedKeyPair(parsed, decryptWith(signKey)))).toBe(hex(given.d));
  });

  it("reads the DER form with sm4-ecb (1.2.156.10197.1.104.1) and a NULL parameter, as other producers write it", () => {
    const { pair } = wrapKeyPairFor(signKey.point);
    const der = encodeSm2EnvelopedKey(pair);
    const algorithm = readTlv(der, readTlv(der, 0).start);
    const withSymmetric = (identifier: Uint8Array) => derElement(0x30, identifier, der.subarray(algorithm.end));
    expect(hex(withSymmetric(derAlgorithmIdentifier("1.2.156.10197.1.104")))).toBe(hex(der));
    expect(parseEnvelopedKeyPair(withSymmetric(derAlgorithmIdentifier("1.2.156.10197.1.104.1", DER_NULL)))).toEqual(pair);
    expectBadRequest(() => parseEnvelopedKeyPair(withSymmetric(derAlgorithmIdentifier("1.2.156.10197.1.104.2"))), /symAlgID 1.2.156.10197.1.104.2 is not supported/);
    expectBadRequest(() => parseEnvelopedKeyPair(withSymmetric(derAlgorithmIdentifier("1.2.156.10197.1.104", Uint8Array.of(0x04, 0x00)))), /takes no parameters/);
  });

  it("keeps a producer's SM4-ECB(0³² ‖ d) field and still opens it", async () => {
    const { pair, privateKey } = wrapKeyPairFor(signKey.point);
    const sm4Key = await decryptWith(signKey)(sm2CipherToDer(pair.keyCipher));
    const cipher = createCipheriv("sm4-ecb", sm4Key, null).setAutoPadding(false);
    const whole = Buffer.concat([cipher.update(Buffer.concat([Buffer.alloc(32), privateKey])), cipher.final()]);
    expect(hex(whole.subarray(32))).toBe(hex(pair.encryptedPrivateKey)); // ECB: the second half is SM4-ECB(d) alone
    const variant: EnvelopedKeyPair = { ...pair, encryptedPrivateKeyHigh: new Uint8Array(whole.subarray(0, 32)) };
    const blob = encodeEnvelopedKeyBlob(variant);
    expect(hex(blob.subarray(12, 76))).toBe(hex(whole));
    const parsed = parseEnvelopedKeyPair(blob);
    expect(parsed).toEqual(variant);
    expect(parseEnvelopedKeyPair(encodeSm2EnvelopedKey(parsed))).toEqual(variant);
    expect(hex(await openEnvelopedKeyPair(parsed, decryptWith(signKey)))).toBe(hex(privateKey));
  });
});

describe("opening refuses", () => {
  it("a forged pair whose public key is another key's", async () => {
    const { pair } = wrapKeyPairFor(signKey.point);
    const forged = parseEnvelopedKeyPair(encodeEnvelopedKeyBlob({ ...pair, publicKey: sm2TestKey().point }));
    await expect(openEnvelopedKeyPair(forged, decryptWith(signKey))).rejects.toThrow("the key pair does not match its public key");
  });

  it("a key cipher that yields another SM4 key, or no SM4 key at all", async () => {
    const { pair } = wrapKeyPairFor(signKey.point);
    await expect(openEnvelopedKeyPair(pair, async () => new Uint8Array(16).fill(7))).rejects.toThrow("the key pair does not match its public key");
    await expect(openEnvelopedKeyPair(pair, async () => new Uint8Array(15))).rejects.toThrow(/not an SM4 key/);
  });

  it("a pair wrapped to another signing key (the token cannot decrypt it)", async () => {
    const { pair } = wrapKeyPairFor(sm2TestKey().point);
    await expect(openEnvelopedKeyPair(pair, decryptWith(signKey))).rejects.toThrow(/pkeyutl -decrypt/);
  });
});

describe("parsing refuses", () => {
  const { pair } = wrapKeyPairFor(sm2TestKey().point);
  const blob = encodeEnvelopedKeyBlob(pair);
  const der = encodeSm2EnvelopedKey(pair);
  const patched = (bytes: Uint8Array, at: number, values: number[]) => {
    const copy = Uint8Array.from(bytes);
    copy.set(values, at);
    return copy;
  };

  it.each([
    ["empty input", new Uint8Array(0), /empty/],
    ["garbage", Uint8Array.from([0x02, 1, 2, 3]), /neither a GM\/T 0009 .* nor a GM\/T 0016/],
    ["a blob one byte short", blob.subarray(0, blob.length - 1), /truncated at ECCCipherBlob.Cipher/],
    ["a blob cut in the public key", blob.subarray(0, 100), /truncated at PubKey.XCoordinate/],
    ["a blob with a trailing byte", Uint8Array.from([...blob, 0]), /1 bytes after the Cipher field/],
    ["Version 2", patched(blob, 0, [2]), /neither/],
    ["SGD_SM1_ECB", patched(blob, 4, [0x01, 0x01]), /ulSymmAlgID is 0x00000101.*SGD_SM4_ECB/],
    ["ulBits 512", patched(blob, 8, [0x00, 0x02]), /ulBits is 0x00000200/],
    ["PubKey.BitLen 0", patched(blob, 76, [0, 0]), /PubKey.BitLen/],
    ["a coordinate not right-aligned", patched(blob, 80, [1]), /PubKey.XCoordinate must be a 256-bit number right-aligned/],
    ["a public key off the curve", patched(blob, 207, [blob[207]! ^ 1]), /public key is not a point on the SM2 curve/],
    ["C1 off the curve", patched(blob, 335, [blob[335]! ^ 1]), /C1 is not a point on the SM2 curve/],
    ["CipherLen 32", patched(blob, 368, [32]), /CipherLen is 32, expected 16/],
    ["a first half that is neither zeros nor SM4-ECB of zeros", patched(blob, 12, [1]), /neither zeros nor SM4-ECB of zeros/],
    ["a DER form cut short", der.subarray(0, der.length - 1), /SM2EnvelopedKey: DER/],
    ["an empty DER SEQUENCE", Uint8Array.of(0x30, 0x00), /SM2EnvelopedKey has 0 fields, expected 4/],
    ["a DER form with a trailing byte", Uint8Array.from([...der, 0]), /1 bytes after the SEQUENCE/],
  ])("%s", (_, bytes, message) => {
    expectBadRequest(() => parseEnvelopedKeyPair(bytes), message);
  });

  it("a pair to encode whose fields have the wrong size", () => {
    expectBadRequest(() => encodeEnvelopedKeyBlob({ ...pair, encryptedPrivateKey: new Uint8Array(31) }), /encrypted private key must be 32 bytes/);
    expectBadRequest(() => encodeSm2EnvelopedKey({ ...pair, keyCipher: { ...pair.keyCipher, cipher: new Uint8Array(32) } }), /C2 \(an SM4 key\) must be 16 bytes/);
    expectBadRequest(() => encodeEnvelopedKeyBlob(pair, 2 as 4), /ULONG is 4 or 8 bytes/);
  });

  it("a signing key that is not an SM2 point", () => {
    expectBadRequest(() => wrapKeyPairFor(new Uint8Array(65)), /signing public key: not a 65-byte point/);
    expectBadRequest(() => wrapKeyPairFor(signKey.point, new Uint8Array(32)), /encryption private key/);
  });
});
