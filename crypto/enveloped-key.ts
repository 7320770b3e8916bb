/**
 * The encryption key pair of a certificate renewal (GM/T 0014 double certificates): a CA's key-management
 * centre (KMC) generates it and sends it wrapped to the container's signing key, as a GM/T 0016
 * ENVELOPEDKEYBLOB or a GM/T 0009 SM2EnvelopedKey (pages pass either, base64). This is the entry point:
 * reading either form into one parsed form, the KMC's side (wrapping, for the demo KMC and tests), and
 * opening a pair with a decryption that runs elsewhere (the host, on PKCS#11 keys that cannot import the
 * blob themselves, decrypts the key cipher on the token and writes the checked scalar).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { badRequest } from "../protocol/errors.js";
import { concatBytes } from "../protocol/der.js";
import { readEnvelopedKeyBlob } from "./enveloped-key-blob.js";
import { readSm2EnvelopedKey, sm2CipherFromDer } from "./enveloped-key-der.js";
import { sm2CipherToDer } from "./sm2-cipher.js";
import { checkEnvelopedKeyPair, SM4_KEY_BYTES, type EnvelopedKeyPair } from "./enveloped-key-pair.js";
import { sm2Encrypt } from "./sm2-encrypt.js";
import { parsePublicPoint } from "./sm2-digest.js";
import { bigIntToBytes, bytesToBigInt, SM2_N } from "./sm2-params.js";
import { sm2PublicFromPrivate } from "./sm2.js";

export { checkEnvelopedKeyPair, type EnvelopedKeyPair } from "./enveloped-key-pair.js";
export { sm2CipherToDer, type Sm2CipherParts } from "./sm2-cipher.js";
export { encodeEnvelopedKeyBlob, type UlongBytes } from "./enveloped-key-blob.js";
export { encodeSm2EnvelopedKey, sm2CipherFromDer } from "./enveloped-key-der.js";

const BLOB_VERSION_BYTE = 0x01;
const DER_SEQUENCE = 0x30;

/** Either form, told apart by the first byte: a DER SEQUENCE, or the blob's little-endian Version 1. */
export function parseEnvelopedKeyPair(bytes: Uint8Array): EnvelopedKeyPair {
  if (bytes.length === 0) throw badRequest("enveloped key: empty");
  if (bytes[0] === DER_SEQUENCE) return readSm2EnvelopedKey(bytes);
  if (bytes[0] === BLOB_VERSION_BYTE) return readEnvelopedKeyBlob(bytes);
  throw badRequest("enveloped key: neither a GM/T 0009 SM2EnvelopedKey (DER SEQUENCE) nor a GM/T 0016 ENVELOPEDKEYBLOB (Version 1)");
}

/** SM4-ECB without padding: the key pair's private scalar is exactly two blocks (GM/T 0009 §7.4 step 2). */
function sm4Ecb(direction: "encrypt" | "decrypt", key: Uint8Array, data: Uint8Array): Uint8Array {
  const cipher = direction === "encrypt" ? createCipheriv("sm4-ecb", key, null) : createDecipheriv("sm4-ecb", key, null);
  cipher.setAutoPadding(false);
  return concatBytes(cipher.update(data), cipher.final());
}

/** A scalar in [1, n-2], the range sm2.ts signs with (1 + d must be invertible). */
function randomScalar(): Uint8Array {
  for (;;) {
    const d = bytesToBigInt(randomBytes(32));
    if (d >= 1n && d <= SM2_N - 2n) return bigIntToBytes(d, 32);
  }
}

function publicKeyOf(privateKey: Uint8Array, field: string): Uint8Array {
  try {
    return sm2PublicFromPrivate(privateKey);
  } catch {
    throw badRequest(`${field}: an SM2 private key is 32 bytes, an integer in [1, n-2]`);
  }
}

export interface WrappedEncryptionKey {
  pair: EnvelopedKeyPair;
  /** The encryption key's scalar d (32 bytes): the KMC escrows it; tests compare what the key opened with it. */
  privateKey: Uint8Array;
}

/**
 * The KMC's side: an encryption key pair (generated, or the one given) wrapped to a container's signing public
 * key (04‖x‖y): d under a fresh SM4 key (ECB), the SM4 key SM2-encrypted to the signing key.
 */
export function wrapKeyPairFor(signPublicKeyPoint: Uint8Array, encryptionPrivateKey?: Uint8Array): WrappedEncryptionKey {
  if (!parsePublicPoint(signPublicKeyPoint)) throw badRequest("signing public key: not a 65-byte point 04‖x‖y on the SM2 curve");
  const privateKey = encryptionPrivateKey ? new Uint8Array(encryptionPrivateKey) : randomScalar();
  const publicKey = publicKeyOf(privateKey, "encryption private key");
  const sm4Key = new Uint8Array(randomBytes(SM4_KEY_BYTES));
  const pair: EnvelopedKeyPair = {
    symmetricAlgorithm: "SM4-ECB",
    publicKey,
    encryptedPrivateKey: sm4Ecb("encrypt", sm4Key, privateKey),
    keyCipher: sm2CipherFromDer(sm2Encrypt(signPublicKeyPoint, sm4Key)),
  };
  sm4Key.fill(0);
  return { pair, privateKey };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * Opens a pair: `decryptKeyCipher` gets the key cipher as GM/T 0009 DER (what CKM_SM2 decryption on the token
 * takes) and returns the SM4 key; the scalar is decrypted here and returned only when d·G is the pair's
 * public key. A pair wrapped to another key, damaged, or forged fails that check.
 */
export async function openEnvelopedKeyPair(pair: EnvelopedKeyPair, decryptKeyCipher: (gmt0009Der: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array> {
  checkEnvelopedKeyPair(pair);
  const sm4Key = await decryptKeyCipher(sm2CipherToDer(pair.keyCipher));
  if (sm4Key.length !== SM4_KEY_BYTES) throw badRequest(`enveloped key: the key cipher holds ${sm4Key.length} bytes, not an SM4 key (16)`);
  const high = pair.encryptedPrivateKeyHigh;
  const plain = sm4Ecb("decrypt", sm4Key, high ? concatBytes(high, pair.encryptedPrivateKey) : pair.encryptedPrivateKey);
  sm4Key.fill(0);
  const privateKey = plain.slice(-32);
  const zeroPrefix = plain.subarray(0, plain.length - 32).every((byte) => byte === 0);
  plain.fill(0);
  const d = bytesToBigInt(privateKey);
  const matches = zeroPrefix && d >= 1n && d <= SM2_N - 2n && sameBytes(sm2PublicFromPrivate(privateKey), pair.publicKey);
  if (!matches) {
    privateKey.fill(0);
    throw badRequest("the key pair does not match its public key");
  }
  return privateKey;
}
