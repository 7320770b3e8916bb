/**
 * The byte layouts of GM/T 0016-2012 (SKF) that cross the FFI, as pure functions over buffers, so each one is
 * tested against byte fixtures without a library. All structs are packed to 1 byte; ULONG is 32-bit little
 * endian as GM/T 0016 says, except in libraries built with `unsigned long` on LP64 systems (飞天's Linux build),
 * where it is 64 bits: the layouts with a ULONG field take its width (`UlongBytes`). 256-bit values sit
 * right-aligned in 64-byte fields (ECC_MAX_XCOORDINATE_BITS_LEN = 512). Names are the standard's.
 */
import { concatBytes, expectTag, readTlv } from "../../../protocol/der.js";
import { YztError } from "../../../protocol/errors.js";
import { sm2CipherToDer } from "../../../crypto/sm2-cipher.js";

/** How wide a library's ULONG is: GM/T 0016's 4 bytes, or 8 in LP64 builds. */
export type UlongBytes = 4 | 8;

export const ECC_FIELD_BYTES = 64;
const SM2_VALUE_BYTES = 32;
/** ECCSIGNATUREBLOB: r[64] s[64]. */
export const ECC_SIGNATURE_BLOB_BYTES = 2 * ECC_FIELD_BYTES;
/** ECCCIPHERBLOB before its variable Cipher: X[64] Y[64] HASH[32] CipherLen(ULONG). */
export const eccCipherBlobHeaderBytes = (ulong: UlongBytes = 4) => 2 * ECC_FIELD_BYTES + 32 + ulong;
export const ECC_CIPHER_BLOB_HEADER_BYTES = eccCipherBlobHeaderBytes(4);
/** DEVINFO as the standard defines it (294 bytes); vendors' structs differ at the end, so read it into more. */
export const DEVINFO_BYTES = 294;
export const DEVINFO_BUFFER_BYTES = 1024;
/** BLOCKCIPHERPARAM: IV[32] IVLen PaddingType FeedBitLen. */
export const BLOCK_CIPHER_IV_BYTES = 32;

export const SGD_SM4_ECB = 0x00000401;
export const SGD_SM4_CBC = 0x00000402;
export const USER_TYPE = 1;
export const ADMIN_TYPE = 0;
/** SKF_GetContainerType: 0 empty, 1 RSA, 2 ECC (SM2). */
export const CONTAINER_RSA = 1;
export const CONTAINER_ECC = 2;
/** SKF_WaitForDevEvent. */
export const DEV_EVENT_INSERTED = 1;
export const DEV_EVENT_REMOVED = 2;
export const PADDING_PKCS5 = 1;

/**
 * A double-NUL-terminated list of NUL-terminated names (EnumDev, EnumApplication, EnumContainer). Names are
 * kept byte for byte (latin1) because they go back into Connect/Open calls; vendors write them in GBK or UTF-8.
 */
export function parseNameList(bytes: Uint8Array, length: number): string[] {
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) throw new RangeError(`name list length ${length} is outside its ${bytes.length}-byte buffer`);
  const names: string[] = [];
  let start = 0;
  for (let i = 0; i < length; i++) {
    if (bytes[i] !== 0) continue;
    if (i === start) break; // the empty name: the list's terminating NUL
    names.push(Buffer.from(bytes.subarray(start, i)).toString("latin1"));
    start = i + 1;
  }
  // A list whose last name runs to the end without its NUL is cut short, not read past.
  return names;
}

/** A name from a list, as the NUL-terminated bytes a Connect/Open call takes. */
export function nameBytes(name: string): Buffer {
  return Buffer.concat([Buffer.from(name, "latin1"), Buffer.of(0)]);
}

/** Vendor text: UTF-8 where it is valid, else GB18030 (GBK), which Chinese vendors' libraries write. */
export function vendorText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("gb18030").decode(bytes);
  }
}

/** A fixed-size text field padded with NULs (or 0xFF, as some vendors pad), trimmed of spaces. */
export function fixedText(bytes: Uint8Array, offset: number, size: number): string {
  const field = bytes.subarray(offset, offset + size);
  // 0xFF is never part of UTF-8 or GBK text: it can only be padding.
  const end = field.findIndex((byte) => byte === 0 || byte === 0xff);
  return vendorText(end === -1 ? field : field.subarray(0, end)).trim();
}

export interface DeviceInfo {
  version: string;
  manufacturer: string;
  issuer: string;
  label: string;
  serialNumber: string;
}

/** The leading DEVINFO fields every vendor lays out the same way (what the host shows and matches on). */
export function parseDevInfo(bytes: Uint8Array): DeviceInfo {
  if (bytes.length < 2 + 64 + 64 + 32 + 32) throw new RangeError("DEVINFO is truncated");
  return {
    version: `${bytes[0]}.${bytes[1]}`,
    manufacturer: fixedText(bytes, 2, 64),
    issuer: fixedText(bytes, 66, 64),
    label: fixedText(bytes, 130, 32),
    serialNumber: fixedText(bytes, 162, 32),
  };
}

/**
 * A 256-bit value in a 64-byte field: right-aligned as the standard says. Some vendors write it at the start
 * instead; a field whose second half is all zero and first half not can only be that (a right-aligned SM2
 * value is never zero), so it is read from the start.
 */
function fromField(blob: Uint8Array, offset: number, what: string): Uint8Array {
  const field = blob.subarray(offset, offset + ECC_FIELD_BYTES);
  const head = field.subarray(0, ECC_FIELD_BYTES - SM2_VALUE_BYTES);
  const tail = field.subarray(ECC_FIELD_BYTES - SM2_VALUE_BYTES);
  const isZero = (part: Uint8Array) => part.every((byte) => byte === 0);
  if (isZero(head)) return tail.slice();
  if (isZero(tail)) return head.slice();
  throw new RangeError(`${what} does not fit 256 bits in its 64-byte field`);
}

/** ECCSIGNATUREBLOB → r‖s (64 bytes). */
export function eccSignatureToRs(blob: Uint8Array): Uint8Array {
  if (blob.length < ECC_SIGNATURE_BLOB_BYTES) throw new RangeError("ECCSIGNATUREBLOB is truncated");
  const rs = new Uint8Array(2 * SM2_VALUE_BYTES);
  rs.set(fromField(blob, 0, "r"), 0);
  rs.set(fromField(blob, ECC_FIELD_BYTES, "s"), SM2_VALUE_BYTES);
  return rs;
}

/** A big-endian unsigned value (an INTEGER's content, leading zero allowed) right-aligned in a 64-byte field. */
function toField(value: Uint8Array, target: Uint8Array, offset: number, what: string): void {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const magnitude = value.subarray(start);
  if (magnitude.length > SM2_VALUE_BYTES) throw new RangeError(`${what} is longer than 256 bits`);
  target.set(magnitude, offset + ECC_FIELD_BYTES - magnitude.length);
}

/**
 * GM/T 0009 SM2 ciphertext (DER SEQUENCE { INTEGER x, INTEGER y, OCTET STRING hash (C3), OCTET STRING C2 }),
 * the form CMS envelopes carry, → ECCCIPHERBLOB, the form SKF_ImportSessionKey takes.
 */
export function gmCiphertextToBlob(der: Uint8Array, ulong: UlongBytes = 4): Uint8Array {
  const sequence = expectTag(readTlv(der, 0), 0x30, "SEQUENCE");
  if (sequence.end !== der.length) throw new RangeError("SM2 ciphertext: bytes after the SEQUENCE");
  const x = expectTag(readTlv(der, sequence.start, sequence.end), 0x02, "INTEGER x");
  const y = expectTag(readTlv(der, x.end, sequence.end), 0x02, "INTEGER y");
  const hash = expectTag(readTlv(der, y.end, sequence.end), 0x04, "OCTET STRING hash");
  const cipher = expectTag(readTlv(der, hash.end, sequence.end), 0x04, "OCTET STRING cipher");
  if (hash.end - hash.start !== 32) throw new RangeError("SM2 ciphertext: the hash (C3) must be 32 bytes");
  const cipherLength = cipher.end - cipher.start;
  const header = eccCipherBlobHeaderBytes(ulong);
  const blob = new Uint8Array(header + cipherLength);
  toField(der.subarray(x.start, x.end), blob, 0, "x");
  toField(der.subarray(y.start, y.end), blob, ECC_FIELD_BYTES, "y");
  blob.set(der.subarray(hash.start, hash.end), 2 * ECC_FIELD_BYTES);
  // Little endian: a 64-bit ULONG holding a length below 2^32 is the 32-bit value and four zero bytes.
  new DataView(blob.buffer).setUint32(2 * ECC_FIELD_BYTES + 32, cipherLength, true);
  blob.set(der.subarray(cipher.start, cipher.end), header);
  return blob;
}

/** gmCiphertextToBlob for a ciphertext a caller sent: a malformed one is their BAD_REQUEST. */
export function callerCipherBlob(der: Uint8Array, ulong: UlongBytes): Uint8Array {
  try {
    return gmCiphertextToBlob(der, ulong);
  } catch (error) {
    throw new YztError("BAD_REQUEST", `data: the SM2 ciphertext is malformed (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** ECCCIPHERBLOB → GM/T 0009 DER (the inverse, for tests and for libraries that hand blobs back). */
export function blobToGmCiphertext(blob: Uint8Array, ulong: UlongBytes = 4): Uint8Array {
  const header = eccCipherBlobHeaderBytes(ulong);
  if (blob.length < header) throw new RangeError("ECCCIPHERBLOB is truncated");
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const lengthAt = 2 * ECC_FIELD_BYTES + 32;
  if (ulong === 8 && view.getUint32(lengthAt + 4, true) !== 0) throw new RangeError("ECCCIPHERBLOB: CipherLen runs past the blob");
  const cipherLength = view.getUint32(lengthAt, true);
  if (header + cipherLength > blob.length) throw new RangeError("ECCCIPHERBLOB: CipherLen runs past the blob");
  return sm2CipherToDer({
    x: fromField(blob, 0, "x"),
    y: fromField(blob, ECC_FIELD_BYTES, "y"),
    hash: blob.subarray(2 * ECC_FIELD_BYTES, 2 * ECC_FIELD_BYTES + 32),
    cipher: blob.subarray(header, header + cipherLength),
  });
}

/** SGD_SM2_1: SM2 signing, the algorithm SKF_GenECCKeyPair is asked for. */
export const SGD_SM2_1 = 0x00020100;
/** MAX_RSA_MODULUS_LEN and MAX_RSA_EXPONENT_LEN of GM/T 0016's RSAPUBLICKEYBLOB. */
const RSA_MODULUS_BYTES = 256;
const RSA_EXPONENT_BYTES = 4;

/** ECCPUBLICKEYBLOB { ULONG BitLen; BYTE X[64]; BYTE Y[64] } → 04‖x‖y. */
export function eccPublicKeyBlobToPoint(blob: Uint8Array, ulong: UlongBytes = 4): Uint8Array {
  if (blob.length < ulong + 2 * ECC_FIELD_BYTES) throw new RangeError("ECCPUBLICKEYBLOB is truncated");
  const bits = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0, true);
  if (bits !== 256) throw new RangeError(`ECCPUBLICKEYBLOB: BitLen ${bits}, expected 256 (SM2)`);
  return concatBytes(Uint8Array.of(0x04), fromField(blob, ulong, "x"), fromField(blob, ulong + ECC_FIELD_BYTES, "y"));
}

export const eccPublicKeyBlobBytes = (ulong: UlongBytes = 4) => ulong + 2 * ECC_FIELD_BYTES;
export const rsaPublicKeyBlobBytes = (ulong: UlongBytes = 4) => 2 * ulong + RSA_MODULUS_BYTES + RSA_EXPONENT_BYTES;

/** RSAPUBLICKEYBLOB { ULONG AlgID; ULONG BitLen; BYTE Modulus[256]; BYTE PublicExponent[4] } → modulus, exponent. */
export function rsaPublicKeyBlobParts(blob: Uint8Array, ulong: UlongBytes = 4): { modulus: Uint8Array; exponent: Uint8Array } {
  if (blob.length < rsaPublicKeyBlobBytes(ulong)) throw new RangeError("RSAPUBLICKEYBLOB is truncated");
  const bits = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(ulong, true);
  if (bits < 1024 || bits > 8 * RSA_MODULUS_BYTES || bits % 8 !== 0) throw new RangeError(`RSAPUBLICKEYBLOB: BitLen ${bits} is not an RSA key size`);
  // The modulus is right-aligned in its field (a 2048-bit one fills it).
  const fieldEnd = 2 * ulong + RSA_MODULUS_BYTES;
  const modulus = blob.slice(fieldEnd - bits / 8, fieldEnd);
  const exponent = blob.slice(fieldEnd, fieldEnd + RSA_EXPONENT_BYTES);
  return { modulus, exponent };
}

/** BLOCKCIPHERPARAM as koffi's packed struct takes it (passed by value to SKF_DecryptInit). */
export interface BlockCipherParam {
  IV: number[];
  IVLen: number;
  PaddingType: number;
  FeedBitLen: number;
}

export function blockCipherParam(iv: Uint8Array, paddingType = PADDING_PKCS5): BlockCipherParam {
  if (iv.length > BLOCK_CIPHER_IV_BYTES) throw new RangeError(`IV of ${iv.length} bytes does not fit BLOCKCIPHERPARAM`);
  const field = new Array<number>(BLOCK_CIPHER_IV_BYTES).fill(0);
  iv.forEach((byte, index) => (field[index] = byte));
  return { IV: field, IVLen: iv.length, PaddingType: paddingType, FeedBitLen: 0 };
}
