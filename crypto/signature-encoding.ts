/**
 * Byte-level encodings between what a token's mechanisms produce and what verifiers expect:
 * CKM_RSA_PKCS signs a DER DigestInfo (we build it), CKM_ECDSA returns r||s (X.509/CMS want DER).
 */
import { createHash } from "node:crypto";
import { badRequest } from "../protocol/errors.js";
import { rawSignatureToDer } from "../protocol/der.js";

/** DER prefix of DigestInfo { AlgorithmIdentifier sha256 NULL, OCTET STRING (32) } (RFC 8017, 9.2 note 1). */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from("3031300d060960864801650304020105000420", "hex");

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function rsaSha256DigestInfo(hash: Uint8Array): Uint8Array {
  if (hash.length !== 32) throw badRequest(`digest must be 32 bytes for SHA-256, got ${hash.length}`);
  return new Uint8Array(Buffer.concat([SHA256_DIGEST_INFO_PREFIX, hash]));
}

/** r||s (each half big-endian) → DER SEQUENCE { INTEGER r, INTEGER s }: ECDSA-Sig-Value and SM2 alike. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw badRequest(`ECDSA signature must be r||s of even length, got ${raw.length}`);
  return rawSignatureToDer(raw);
}

/** Reads one strict-DER non-negative INTEGER of at most `size` value bytes at `offset`. */
function readDerInteger(der: Uint8Array, offset: number, size: number): { value: Uint8Array; next: number } {
  const fail = (why: string) => badRequest(`DER signature: ${why}`);
  if (der[offset] !== 0x02) throw fail("expected INTEGER");
  const length = der[offset + 1];
  if (length === undefined || length === 0 || length >= 0x80) throw fail("bad INTEGER length");
  const next = offset + 2 + length;
  if (next > der.length) throw fail("INTEGER runs past the end");
  const body = der.subarray(offset + 2, next);
  if (body[0]! & 0x80) throw fail("negative INTEGER");
  if (body.length > 1 && body[0] === 0 && !(body[1]! & 0x80)) throw fail("non-minimal INTEGER");
  const value = body[0] === 0 && body.length > 1 ? body.subarray(1) : body;
  if (value.length > size) throw fail(`INTEGER longer than ${size} bytes`);
  return { value, next };
}

/**
 * DER ECDSA-Sig-Value / SM2 signature SEQUENCE { INTEGER r, INTEGER s } → r||s, each left-padded to `size`
 * bytes (32 for P-256 and SM2). Strict: anything that is not exactly that encoding is refused.
 */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  if (der.length < 2 || der[0] !== 0x30) throw badRequest("DER signature: expected SEQUENCE");
  if (der[1]! >= 0x80) throw badRequest("DER signature: SEQUENCE length must use the short form");
  if (der[1]! + 2 !== der.length) throw badRequest("DER signature: SEQUENCE length does not match the input (truncated or trailing bytes)");
  const r = readDerInteger(der, 2, size);
  const s = readDerInteger(der, r.next, size);
  if (s.next !== der.length) throw badRequest("DER signature: trailing bytes inside SEQUENCE");
  const out = new Uint8Array(2 * size);
  out.set(r.value, size - r.value.length);
  out.set(s.value, 2 * size - s.value.length);
  return out;
}
