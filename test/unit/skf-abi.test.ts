import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  blobToGmCiphertext, blockCipherParam, DEVINFO_BYTES, ECC_CIPHER_BLOB_HEADER_BYTES, eccCipherBlobHeaderBytes, eccSignatureToRs, gmCiphertextToBlob, nameBytes,
  parseDevInfo, parseNameList, vendorText,
} from "../../native-host/token/skf/abi.js";
import { skfKeyId } from "../../native-host/token/skf/key-ids.js";
import { SAR, skfError } from "../../native-host/token/skf/errors.js";
import { derElement, derUnsignedInteger } from "../../protocol/der.js";

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ""), "hex"));
const filled = (length: number, value: number) => new Uint8Array(length).fill(value);

describe("SKF name lists (EnumDev, EnumApplication, EnumContainer)", () => {
  it("reads a double-NUL-terminated list", () => {
    const list = Buffer.from("YZT0000000000001\0YZT0000000000005\0\0", "latin1");
    expect(parseNameList(list, list.length)).toEqual(["YZT0000000000001", "YZT0000000000005"]);
  });
  it("reads an empty list (a single NUL, or nothing)", () => {
    expect(parseNameList(Uint8Array.of(0), 1)).toEqual([]);
    expect(parseNameList(Uint8Array.of(0, 0), 2)).toEqual([]);
    expect(parseNameList(new Uint8Array(0), 0)).toEqual([]);
  });
  it("stops at the reported length and drops a last name without its NUL instead of reading past", () => {
    const list = Buffer.from("A\0BROKEN", "latin1");
    expect(parseNameList(list, list.length)).toEqual(["A"]);
    expect(parseNameList(Buffer.from("A\0B\0\0C\0\0"), 5)).toEqual(["A", "B"]);
  });
  it("refuses a length larger than its buffer", () => {
    expect(() => parseNameList(Uint8Array.of(65, 0, 0), 4)).toThrow(RangeError);
    expect(() => parseNameList(Uint8Array.of(65, 0, 0), -1)).toThrow(RangeError);
  });
  it("keeps GBK names byte for byte so they go back into Connect/Open calls unchanged", () => {
    const gbk = Uint8Array.of(0xb1, 0xb1, 0xbe, 0xa9, 0); // 北京 in GBK
    const [name] = parseNameList(Uint8Array.of(...gbk, 0), gbk.length + 1);
    expect(Buffer.from(nameBytes(name!))).toEqual(Buffer.from(gbk));
  });
});

describe("DEVINFO (packed, 294 bytes in the standard)", () => {
  function devInfo(fields: { manufacturer: string; issuer: string; label: string; serial: string }): Uint8Array {
    const info = new Uint8Array(DEVINFO_BYTES);
    info.set([1, 0], 0);
    info.set(Buffer.from(fields.manufacturer), 2);
    info.set(Buffer.from(fields.issuer), 66);
    info.set(Buffer.from(fields.label), 130);
    info.set(Buffer.from(fields.serial), 162);
    return info;
  }
  it("reads the version, manufacturer, issuer, label and serial at their packed offsets", () => {
    const parsed = parseDevInfo(devInfo({ manufacturer: "Longmai", issuer: "BJCA", label: "BJ-YZT", serial: "0123456789ABCDEF" }));
    expect(parsed).toEqual({ version: "1.0", manufacturer: "Longmai", issuer: "BJCA", label: "BJ-YZT", serialNumber: "0123456789ABCDEF" });
  });
  it("reads a serial that fills its whole 32-byte field without a NUL", () => {
    expect(parseDevInfo(devInfo({ manufacturer: "M", issuer: "I", label: "L", serial: "S".repeat(32) })).serialNumber).toBe("S".repeat(32));
  });
  it("decodes a GBK label the way Chinese vendors write it", () => {
    const info = devInfo({ manufacturer: "M", issuer: "I", label: "", serial: "1" });
    info.set([0xb1, 0xb1, 0xbe, 0xa9, 0xd2, 0xbb, 0xd6, 0xa4, 0xcd, 0xa8], 130); // 北京一证通
    expect(parseDevInfo(info).label).toBe("北京一证通");
    expect(vendorText(Buffer.from("北京一证通"))).toBe("北京一证通");
  });
  it("refuses a truncated struct", () => {
    expect(() => parseDevInfo(new Uint8Array(100))).toThrow(RangeError);
  });
  it("reads fields padded with 0xFF as some vendors pad them", () => {
    const info = devInfo({ manufacturer: "M", issuer: "I", label: "L", serial: "" });
    info.fill(0xff, 162, 194);
    info.set(Buffer.from("HT0123"), 162);
    expect(parseDevInfo(info).serialNumber).toBe("HT0123");
  });
});

describe("ECCSIGNATUREBLOB", () => {
  it("takes r and s from the right of their 64-byte fields", () => {
    const blob = new Uint8Array(128);
    blob.set(filled(32, 0x11), 32);
    blob.set(filled(32, 0x22), 96);
    const rs = eccSignatureToRs(blob);
    expect(Buffer.from(rs)).toEqual(Buffer.concat([Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)]));
  });
  it("reads values a vendor wrote at the start of their fields (the second half all zero)", () => {
    const blob = new Uint8Array(128);
    blob.set(filled(32, 0x11), 0);
    blob.set(filled(32, 0x22), 64);
    expect(Buffer.from(eccSignatureToRs(blob))).toEqual(Buffer.concat([Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)]));
  });
  it("refuses a field with bytes in both halves (more than 256 bits)", () => {
    const blob = new Uint8Array(128);
    blob.set(filled(64, 0x11), 0);
    blob.set(filled(32, 0x22), 96);
    expect(() => eccSignatureToRs(blob)).toThrow(/256 bits/);
  });
  it("refuses a truncated blob", () => {
    expect(() => eccSignatureToRs(new Uint8Array(64))).toThrow(RangeError);
  });
});

describe("ECCCIPHERBLOB ↔ GM/T 0009 DER", () => {
  const x = bytes("8f" + "01".repeat(31)); // high bit set: DER needs a leading zero
  const y = bytes("00" + "02".repeat(31)); // leading zero byte: DER drops it
  const hash = filled(32, 0x33);
  const cipher = bytes("a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  const der = derElement(0x30, derUnsignedInteger(x), derUnsignedInteger(y), derElement(0x04, hash), derElement(0x04, cipher));

  it("lays out X and Y right-aligned, then HASH, CipherLen (little endian) and Cipher", () => {
    const blob = gmCiphertextToBlob(der);
    expect(blob.length).toBe(ECC_CIPHER_BLOB_HEADER_BYTES + cipher.length);
    expect(Buffer.from(blob.subarray(0, 32))).toEqual(Buffer.alloc(32));
    expect(Buffer.from(blob.subarray(32, 64))).toEqual(Buffer.from(x));
    expect(Buffer.from(blob.subarray(64 + 32, 128))).toEqual(Buffer.from(y));
    expect(Buffer.from(blob.subarray(128, 160))).toEqual(Buffer.from(hash));
    expect(Buffer.from(blob.subarray(160, 164))).toEqual(Buffer.from([cipher.length, 0, 0, 0]));
    expect(Buffer.from(blob.subarray(164))).toEqual(Buffer.from(cipher));
  });
  it("turns back into the same DER", () => {
    expect(Buffer.from(blobToGmCiphertext(gmCiphertextToBlob(der)))).toEqual(Buffer.from(der));
  });
  it("refuses a hash that is not 32 bytes, trailing bytes, and a CipherLen past the blob", () => {
    const shortHash = derElement(0x30, derUnsignedInteger(x), derUnsignedInteger(y), derElement(0x04, filled(20, 1)), derElement(0x04, cipher));
    expect(() => gmCiphertextToBlob(shortHash)).toThrow(/32 bytes/);
    expect(() => gmCiphertextToBlob(Uint8Array.of(...der, 0))).toThrow(/after the SEQUENCE/);
    const blob = gmCiphertextToBlob(der);
    new DataView(blob.buffer).setUint32(160, 0xffff, true);
    expect(() => blobToGmCiphertext(blob)).toThrow(/runs past/);
  });
  it("widens CipherLen to 8 bytes for a library built with a 64-bit ULONG, and reads it back", () => {
    const blob = gmCiphertextToBlob(der, 8);
    expect(blob.length).toBe(eccCipherBlobHeaderBytes(8) + cipher.length);
    expect(eccCipherBlobHeaderBytes(8)).toBe(168);
    expect(Buffer.from(blob.subarray(160, 168))).toEqual(Buffer.from([cipher.length, 0, 0, 0, 0, 0, 0, 0]));
    expect(Buffer.from(blob.subarray(168))).toEqual(Buffer.from(cipher));
    expect(Buffer.from(blobToGmCiphertext(blob, 8))).toEqual(Buffer.from(der));
    // Read with the other width, the same bytes do not make the same ciphertext.
    let misread: Uint8Array | null;
    try {
      misread = blobToGmCiphertext(blob, 4);
    } catch {
      misread = null;
    }
    expect(misread !== null && Buffer.from(misread).equals(Buffer.from(der))).toBe(false);
    new DataView(blob.buffer).setUint32(164, 1, true);
    expect(() => blobToGmCiphertext(blob, 8)).toThrow(/runs past/);
  });
  it("refuses a coordinate longer than 256 bits", () => {
    const long = derElement(0x30, derUnsignedInteger(filled(33, 0x7f)), derUnsignedInteger(y), derElement(0x04, hash), derElement(0x04, cipher));
    expect(() => gmCiphertextToBlob(long)).toThrow(/256 bits/);
  });
});

describe("BLOCKCIPHERPARAM", () => {
  it("puts the IV at the start of its 32-byte field with its length and PKCS#5 padding", () => {
    const iv = Uint8Array.from(createHash("md5").update("iv").digest());
    const param = blockCipherParam(iv);
    expect(param.IV).toHaveLength(32);
    expect(param.IV.slice(0, 16)).toEqual([...iv]);
    expect(param.IV.slice(16)).toEqual(new Array(16).fill(0));
    expect(param).toMatchObject({ IVLen: 16, PaddingType: 1, FeedBitLen: 0 });
  });
  it("refuses an IV longer than the field", () => {
    expect(() => blockCipherParam(new Uint8Array(33))).toThrow(RangeError);
  });
});

describe("SAR codes → API.md error codes", () => {
  it.each([
    [SAR.PIN_INCORRECT, "PIN_INCORRECT"],
    [SAR.PIN_LOCKED, "PIN_LOCKED"],
    [SAR.PIN_LEN_RANGE, "PIN_INVALID"],
    [SAR.DEVICE_REMOVED, "TOKEN_REMOVED"],
    [SAR.INVALIDHANDLEERR, "TOKEN_REMOVED"],
    [SAR.USER_NOT_LOGGED_IN, "LOGIN_REQUIRED"],
    [SAR.CERTNOTFOUNTERR, "NO_CERTIFICATE"],
    [SAR.NOTSUPPORTYETERR, "UNSUPPORTED_ALGORITHM"],
  ])("maps 0x%s to %s", (sar, code) => {
    expect(skfError(sar, "SKF_Test").code).toBe(code);
  });
  it("names an unknown SAR value and the call that returned it", () => {
    const error = skfError(0x0a0000ff, "SKF_ECCSignData");
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toContain("SKF_ECCSignData");
    expect(error.data).toMatchObject({ sar: "SAR_0x0a0000ff", call: "SKF_ECCSignData" });
  });
});

describe("certificate ids of SKF keys (no CKA_ID: the pair's place on the key)", () => {
  it("numbers the first container's signing and encryption pairs 0101 and 0202, the second's 0303 and 0404", () => {
    expect([skfKeyId(0, true), skfKeyId(0, false), skfKeyId(1, true), skfKeyId(1, false)]).toEqual(["0101", "0202", "0303", "0404"]);
  });
  it("stays unique and valid (even-length lower-case hex) past 255 pairs", () => {
    const ids = Array.from({ length: 300 }, (_, index) => [skfKeyId(index, true), skfKeyId(index, false)]).flat();
    expect(new Set(ids).size).toBe(600);
    for (const id of ids) expect(id).toMatch(/^(?:[0-9a-f]{2})+$/);
  });
});
