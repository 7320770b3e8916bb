/**
 * GM/T 0009-2012 §7.4 SM2EnvelopedKey ⇄ the parsed key pair (enveloped-key-pair.ts):
 *
 *   SM2EnvelopedKey ::= SEQUENCE {
 *     symAlgID               AlgorithmIdentifier,  -- SM4; GM/T 0009 fixes ECB for block ciphers
 *     symEncryptedKey        SM2Cipher,            -- SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER,
 *                                                  --            HASH OCTET STRING (32), CipherText OCTET STRING }
 *     sm2PublicKey           SM2PublicKey,         -- BIT STRING 04‖x‖y
 *     sm2EncryptedPrivateKey BIT STRING }          -- SM4-ECB(d), 32 bytes
 *
 * Written with 1.2.156.10197.1.104 (SM4, GM/T 0006) and no parameters, ECB being what GM/T 0009 implies; read
 * also with 1.2.156.10197.1.104.1 (sm4-ecb, as OpenSSL and Go's gmsm write it) and a NULL parameter.
 * SM2Cipher (sm2-cipher.ts) is the DER sm2-encrypt.ts produces and tokens' CKM_SM2 decryption takes.
 */
import { concatBytes, derElement, expectTag, readTlv, type Tlv } from "../protocol/der.js";
import { badRequest, YztError } from "../protocol/errors.js";
import { derAlgorithmIdentifier, derBitString } from "./der-writer.js";
import { checkEnvelopedKeyPair, padLeft, type EnvelopedKeyPair } from "./enveloped-key-pair.js";
import { sm2CipherToDer, type Sm2CipherParts } from "./sm2-cipher.js";
import { childrenOf, contentOf, decodeOid } from "./x509-reader.js";

const SM4 = "1.2.156.10197.1.104";
const SM4_ECB = "1.2.156.10197.1.104.1";

const fail = (problem: string) => badRequest(`SM2EnvelopedKey: ${problem}`);

/** The children of a SEQUENCE that must have exactly `count` of them. */
function sequenceOf(der: Uint8Array, tlv: Tlv, count: number, what: string): Tlv[] {
  const children = childrenOf(der, expectTag(tlv, 0x30, what));
  if (children.length !== count) throw new Error(`DER: ${what} has ${children.length} fields, expected ${count}`);
  return children;
}

/** A non-negative, minimally encoded INTEGER of at most 32 bytes, left-padded to 32. */
function coordinate(der: Uint8Array, tlv: Tlv, what: string): Uint8Array {
  const bytes = contentOf(der, expectTag(tlv, 0x02, `${what} INTEGER`));
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) throw new Error(`DER: ${what} is empty or negative`);
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) throw new Error(`DER: ${what} is not minimally encoded`);
  const magnitude = bytes[0] === 0 && bytes.length > 1 ? bytes.subarray(1) : bytes;
  if (magnitude.length > 32) throw new Error(`DER: ${what} is longer than 256 bits`);
  return padLeft(magnitude, 32);
}

function bitStringBytes(der: Uint8Array, tlv: Tlv, what: string): Uint8Array {
  const content = contentOf(der, expectTag(tlv, 0x03, `${what} BIT STRING`));
  if (content[0] !== 0) throw new Error(`DER: ${what} has unused bits`);
  return content.slice(1);
}

function readCipher(der: Uint8Array, tlv: Tlv): Sm2CipherParts {
  const [x, y, hash, cipher] = sequenceOf(der, tlv, 4, "SM2Cipher") as [Tlv, Tlv, Tlv, Tlv];
  return {
    x: coordinate(der, x, "XCoordinate"),
    y: coordinate(der, y, "YCoordinate"),
    hash: contentOf(der, expectTag(hash, 0x04, "HASH OCTET STRING")).slice(),
    cipher: contentOf(der, expectTag(cipher, 0x04, "CipherText OCTET STRING")).slice(),
  };
}

/** The GM/T 0009 DER SM2Cipher (what a token's SM2 decryption takes) → its parts; badRequest if malformed. */
export function sm2CipherFromDer(der: Uint8Array): Sm2CipherParts {
  try {
    const outer = readTlv(der, 0);
    if (outer.end !== der.length) throw new Error("DER: bytes after the SM2Cipher");
    return readCipher(der, outer);
  } catch (error) {
    throw badRequest(`SM2Cipher: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function checkAlgorithm(der: Uint8Array, tlv: Tlv): void {
  const [oid, parameters, extra] = childrenOf(der, expectTag(tlv, 0x30, "symAlgID AlgorithmIdentifier"));
  const algorithm = oid ? decodeOid(contentOf(der, expectTag(oid, 0x06, "symAlgID OID"))) : "";
  if (algorithm !== SM4 && algorithm !== SM4_ECB) throw fail(`symAlgID ${algorithm || "(none)"} is not supported (SM4 in ECB mode only)`);
  if (extra || (parameters && (parameters.tag !== 0x05 || parameters.end !== parameters.start))) throw fail("symAlgID: SM4-ECB takes no parameters (or NULL)");
}

export function readSm2EnvelopedKey(der: Uint8Array): EnvelopedKeyPair {
  let parts: { publicKey: Uint8Array; encrypted: Uint8Array; keyCipher: Sm2CipherParts };
  try {
    const outer = readTlv(der, 0);
    if (outer.end !== der.length) throw new Error(`DER: ${der.length - outer.end} bytes after the SEQUENCE`);
    const [algorithm, keyCipher, publicKey, encrypted] = sequenceOf(der, outer, 4, "SM2EnvelopedKey") as [Tlv, Tlv, Tlv, Tlv];
    checkAlgorithm(der, algorithm);
    parts = { keyCipher: readCipher(der, keyCipher), publicKey: bitStringBytes(der, publicKey, "sm2PublicKey"), encrypted: bitStringBytes(der, encrypted, "sm2EncryptedPrivateKey") };
  } catch (error) {
    if (error instanceof YztError) throw error;
    throw fail(error instanceof Error ? error.message : String(error));
  }
  // 64 bytes: a producer that encrypted 32 zero bytes ‖ d (see EnvelopedKeyPair.encryptedPrivateKeyHigh).
  if (parts.encrypted.length !== 32 && parts.encrypted.length !== 64) throw fail(`sm2EncryptedPrivateKey must be 32 bytes, got ${parts.encrypted.length}`);
  const first = parts.encrypted.subarray(0, parts.encrypted.length - 32);
  const high = first.some((byte) => byte !== 0) ? { encryptedPrivateKeyHigh: first.slice() } : {};
  return checkEnvelopedKeyPair({ symmetricAlgorithm: "SM4-ECB", publicKey: parts.publicKey, encryptedPrivateKey: parts.encrypted.slice(-32), ...high, keyCipher: parts.keyCipher });
}

export function encodeSm2EnvelopedKey(pair: EnvelopedKeyPair): Uint8Array {
  const { publicKey, encryptedPrivateKey, encryptedPrivateKeyHigh, keyCipher } = checkEnvelopedKeyPair(pair);
  return derElement(
    0x30,
    derAlgorithmIdentifier(SM4),
    sm2CipherToDer(keyCipher),
    derBitString(publicKey),
    derBitString(encryptedPrivateKeyHigh ? concatBytes(encryptedPrivateKeyHigh, encryptedPrivateKey) : encryptedPrivateKey),
  );
}
