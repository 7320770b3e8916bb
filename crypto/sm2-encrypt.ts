/**
 * SM2 public-key encryption (GB/T 32918.4 / GM/T 0003.4), for SOF_PubKeyEncrypt and SM2 envelopes:
 * C1 = k·G, (x2, y2) = k·P, t = KDF(x2‖y2), C2 = M ⊕ t, C3 = SM3(x2‖M‖y2), written as the GM/T 0009 DER
 * SM2Ciphertext (sm2-cipher.ts) SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 } that OpenSSL and vendor
 * libraries (CKM_SM2_CIPHER_DER) take. Decryption happens on the token only.
 */
import { randomBytes } from "node:crypto";
import { YztError } from "../protocol/errors.js";
import { concatBytes } from "../protocol/der.js";
import { sm2CipherToDer } from "./sm2-cipher.js";
import { bigIntToBytes, bytesToBigInt, isOnCurve, multiplyBase, multiplyPoint, SM2_N } from "./sm2-curve.js";
import { sm3 } from "./sm2-digest.js";

/** The GM/T 0003.4 key derivation function: SM3(Z‖ct) for ct = 1, 2, … (32-bit big-endian), truncated. */
function kdf(z: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let counter = 1, at = 0; at < length; counter++, at += 32) {
    const block = sm3(z, Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff));
    out.set(block.subarray(0, Math.min(32, length - at)), at);
  }
  return out;
}

export function sm2Encrypt(publicPoint: Uint8Array, message: Uint8Array): Uint8Array {
  if (message.length === 0) throw new YztError("BAD_REQUEST", "data: SM2 cannot encrypt an empty message");
  if (publicPoint.length !== 65 || publicPoint[0] !== 0x04) throw new YztError("BAD_REQUEST", "certificate: not an SM2 public key");
  const recipient = { x: bytesToBigInt(publicPoint.subarray(1, 33)), y: bytesToBigInt(publicPoint.subarray(33)) };
  if (!isOnCurve(recipient)) throw new YztError("BAD_REQUEST", "certificate: the SM2 public key is not on the curve");
  for (;;) {
    const k = bytesToBigInt(randomBytes(32));
    if (k < 1n || k >= SM2_N) continue;
    const c1 = multiplyBase(k)!;
    const shared = multiplyPoint(recipient, k);
    if (!shared) continue;
    const x2 = bigIntToBytes(shared.x, 32);
    const y2 = bigIntToBytes(shared.y, 32);
    const t = kdf(concatBytes(x2, y2), message.length);
    if (t.every((byte) => byte === 0)) continue; // the standard's "t all zero: choose another k"
    const c2 = message.map((byte, i) => byte ^ t[i]!);
    const c3 = sm3(x2, message, y2);
    return sm2CipherToDer({ x: bigIntToBytes(c1.x, 32), y: bigIntToBytes(c1.y, 32), hash: c3, cipher: c2 });
  }
}
