/**
 * Checks a raw signature as `yzt.sign({format: "raw"})` makes them (PKCS#1 v1.5 or DER ECDSA over SHA-256
 * of the data; SM2 with SM3 and the default ID, as r‖s or DER) against a certificate. Used by the XTXApp
 * layer's SOF_VerifySignedData.
 */
import { verify, X509Certificate } from "node:crypto";
import { YztError } from "../protocol/errors.js";
import { isSm2Spki, publicPointOfSpki } from "./sm2-certificate.js";
import { derToRs, sm2Digest, sm2Verify } from "./sm2.js";

function verifySm2(spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  const point = publicPointOfSpki(spki);
  const rs = signature.length === 64 ? signature : derToRs(signature);
  return sm2Verify(point, sm2Digest(point, data), rs);
}

export function verifyRawSignature(certificateDer: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificateDer);
  } catch {
    throw new YztError("BAD_REQUEST", "certificate: not a DER X.509 certificate");
  }
  try {
    const spki = certificate.publicKey.export({ type: "spki", format: "der" });
    if (isSm2Spki(spki)) return verifySm2(spki, data, signature);
    return verify("sha256", data, certificate.publicKey, signature);
  } catch {
    // Malformed signature bytes are simply not a valid signature.
    return false;
  }
}
