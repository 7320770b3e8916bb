/**
 * GM/T 0016 ENVELOPEDKEYBLOB ⇄ the parsed key pair (enveloped-key-pair.ts). The C structure, packed, every
 * ULONG little-endian:
 *
 *   ULONG Version (1); ULONG ulSymmAlgID (SGD_SM4_ECB 0x00000401); ULONG ulBits (256);
 *   BYTE cbEncryptedPriKey[64];
 *   ECCPUBLICKEYBLOB PubKey { ULONG BitLen (256); BYTE XCoordinate[64]; BYTE YCoordinate[64] };
 *   ECCCIPHERBLOB ECCCipherBlob { BYTE XCoordinate[64]; BYTE YCoordinate[64]; BYTE HASH[32]; ULONG CipherLen; BYTE Cipher[CipherLen] }
 *
 * ULONG is 4 bytes in what pages send and in Windows SKF libraries, 8 in some Linux ones (LP64 builds); the
 * reader tells them apart by the bytes after Version (ulSymmAlgID is never 0; an 8-byte Version's high half is).
 * 256-bit numbers sit right-aligned in their 64-byte fields (32 zero bytes first), and so does SM4-ECB(d), the
 * 32-byte encrypted scalar, in cbEncryptedPriKey: the convention of ECCPRIVATEKEYBLOB, and the one vendors'
 * KMC tools use (some encrypt the whole 64-byte field instead; see encryptedPrivateKeyHigh).
 */
import { badRequest } from "../protocol/errors.js";
import { concatBytes } from "../protocol/der.js";
import { checkEnvelopedKeyPair, padLeft, rightAligned, SM4_KEY_BYTES, type EnvelopedKeyPair } from "./enveloped-key-pair.js";

export type UlongBytes = 4 | 8;

const BLOB_VERSION = 1;
const SGD_SM4_ECB = 0x00000401;
const SM2_BITS = 256;
const FIELD_BYTES = 64;
const HASH_BYTES = 32;

const fail = (problem: string) => badRequest(`ENVELOPEDKEYBLOB: ${problem}`);

/** Reads the packed fields in order, naming the field that is short. */
class BlobReader {
  private at = 0;

  constructor(private readonly bytes: Uint8Array, private readonly ulongBytes: UlongBytes) {}

  take(length: number, field: string): Uint8Array {
    if (this.at + length > this.bytes.length) throw fail(`truncated at ${field} (${this.bytes.length} bytes)`);
    this.at += length;
    return this.bytes.subarray(this.at - length, this.at);
  }

  ulong(field: string): number {
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const start = this.at;
    this.take(this.ulongBytes, field);
    if (this.ulongBytes === 8 && view.getUint32(start + 4, true) !== 0) throw fail(`${field} does not fit 32 bits`);
    return view.getUint32(start, true);
  }

  end(): void {
    if (this.at !== this.bytes.length) throw fail(`${this.bytes.length - this.at} bytes after the Cipher field`);
  }
}

/** 8 when the bytes after Version are zero (the high half of an 8-byte Version), else 4. */
function ulongWidth(bytes: Uint8Array): UlongBytes {
  return bytes.length >= 8 && bytes.subarray(4, 8).every((byte) => byte === 0) ? 8 : 4;
}

function expectValue(actual: number, expected: number, field: string, note = ""): void {
  if (actual !== expected) throw fail(`${field} is 0x${actual.toString(16).padStart(8, "0")}, expected 0x${expected.toString(16).padStart(8, "0")}${note}`);
}

/** The 64-byte cbEncryptedPriKey: 32 zero bytes ‖ SM4-ECB(d), or SM4-ECB(0³² ‖ d). */
function splitEncryptedPrivateKey(field: Uint8Array): Pick<EnvelopedKeyPair, "encryptedPrivateKey" | "encryptedPrivateKeyHigh"> {
  const high = field.subarray(0, 32);
  const encryptedPrivateKey = field.slice(32);
  return high.every((byte) => byte === 0) ? { encryptedPrivateKey } : { encryptedPrivateKey, encryptedPrivateKeyHigh: high.slice() };
}

export function readEnvelopedKeyBlob(bytes: Uint8Array): EnvelopedKeyPair {
  const reader = new BlobReader(bytes, ulongWidth(bytes));
  expectValue(reader.ulong("Version"), BLOB_VERSION, "Version");
  expectValue(reader.ulong("ulSymmAlgID"), SGD_SM4_ECB, "ulSymmAlgID", " (SGD_SM4_ECB, the only algorithm supported)");
  expectValue(reader.ulong("ulBits"), SM2_BITS, "ulBits");
  const privateKey = splitEncryptedPrivateKey(reader.take(FIELD_BYTES, "cbEncryptedPriKey"));
  expectValue(reader.ulong("PubKey.BitLen"), SM2_BITS, "PubKey.BitLen");
  const publicX = rightAligned(reader.take(FIELD_BYTES, "PubKey.XCoordinate"), 32, "PubKey.XCoordinate");
  const publicY = rightAligned(reader.take(FIELD_BYTES, "PubKey.YCoordinate"), 32, "PubKey.YCoordinate");
  const x = rightAligned(reader.take(FIELD_BYTES, "ECCCipherBlob.XCoordinate"), 32, "ECCCipherBlob.XCoordinate");
  const y = rightAligned(reader.take(FIELD_BYTES, "ECCCipherBlob.YCoordinate"), 32, "ECCCipherBlob.YCoordinate");
  const hash = reader.take(HASH_BYTES, "ECCCipherBlob.HASH").slice();
  const cipherLength = reader.ulong("ECCCipherBlob.CipherLen");
  if (cipherLength !== SM4_KEY_BYTES) throw fail(`ECCCipherBlob.CipherLen is ${cipherLength}, expected ${SM4_KEY_BYTES} (an SM4 key)`);
  const cipher = reader.take(cipherLength, "ECCCipherBlob.Cipher").slice();
  reader.end();
  return checkEnvelopedKeyPair({
    symmetricAlgorithm: "SM4-ECB",
    publicKey: concatBytes(Uint8Array.of(0x04), publicX, publicY),
    ...privateKey,
    keyCipher: { x, y, hash, cipher },
  });
}

function ulong(value: number, width: UlongBytes): Uint8Array {
  const out = new Uint8Array(width);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

/** The blob with 4-byte ULONGs (pages, Windows) or 8-byte ones (LP64 SKF libraries). */
export function encodeEnvelopedKeyBlob(pair: EnvelopedKeyPair, ulongBytes: UlongBytes = 4): Uint8Array {
  if (ulongBytes !== 4 && ulongBytes !== 8) throw badRequest(`ENVELOPEDKEYBLOB: ULONG is 4 or 8 bytes, not ${String(ulongBytes)}`);
  const { publicKey, encryptedPrivateKey, encryptedPrivateKeyHigh, keyCipher } = checkEnvelopedKeyPair(pair);
  const field = (value: Uint8Array) => padLeft(value, FIELD_BYTES);
  return concatBytes(
    ulong(BLOB_VERSION, ulongBytes), ulong(SGD_SM4_ECB, ulongBytes), ulong(SM2_BITS, ulongBytes),
    encryptedPrivateKeyHigh ? concatBytes(encryptedPrivateKeyHigh, encryptedPrivateKey) : field(encryptedPrivateKey),
    ulong(SM2_BITS, ulongBytes), field(publicKey.subarray(1, 33)), field(publicKey.subarray(33)),
    field(keyCipher.x), field(keyCipher.y), keyCipher.hash, ulong(keyCipher.cipher.length, ulongBytes), keyCipher.cipher,
  );
}
