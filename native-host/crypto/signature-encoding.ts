/**
 * Byte-level encodings between what a token's mechanisms produce and what verifiers expect:
 * CKM_RSA_PKCS signs a DER DigestInfo (we build it), CKM_ECDSA returns r||s (X.509/CMS want DER).
 */
import { createHash } from "node:crypto";
import { badRequest } from "../../protocol/errors.js";

/** DER prefix of DigestInfo { AlgorithmIdentifier sha256 NULL, OCTET STRING (32) } (RFC 8017, 9.2 note 1). */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from("3031300d060960864801650304020105000420", "hex");

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function rsaSha256DigestInfo(hash: Uint8Array): Uint8Array {
  if (hash.length !== 32) throw badRequest(`digest must be 32 bytes for SHA-256, got ${hash.length}`);
  return new Uint8Array(Buffer.concat([SHA256_DIGEST_INFO_PREFIX, hash]));
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Minimal two's-complement INTEGER for an unsigned big-endian magnitude. */
function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = Buffer.from(magnitude.subarray(start));
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw badRequest(`ECDSA signature must be r||s of even length, got ${raw.length}`);
  const half = raw.length / 2;
  const body = Buffer.concat([derUnsignedInteger(raw.subarray(0, half)), derUnsignedInteger(raw.subarray(half))]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]));
}

/** DER ECDSA-Sig-Value → r||s, each left-padded to `size` bytes (32 for P-256). */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  const fail = () => badRequest("not a DER ECDSA signature");
  const readLength = (at: number): [number, number] => {
    const first = der[at];
    if (first === undefined) throw fail();
    if (first < 0x80) return [first, at + 1];
    const count = first & 0x7f;
    let length = 0;
    for (let i = 1; i <= count; i++) length = (length << 8) | (der[at + i] ?? 0);
    return [length, at + 1 + count];
  };
  if (der[0] !== 0x30) throw fail();
  let [, at] = readLength(1);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) throw fail();
    const [length, start] = readLength(at + 1);
    let value = der.subarray(start, start + length);
    while (value.length > size && value[0] === 0) value = value.subarray(1);
    if (value.length > size) throw fail();
    const padded = new Uint8Array(size);
    padded.set(value, size - value.length);
    parts.push(padded);
    at = start + length;
  }
  return new Uint8Array(Buffer.concat(parts));
}
