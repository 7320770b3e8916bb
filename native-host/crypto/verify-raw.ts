/**
 * Checks a raw signature as `yzt.sign({format: "raw"})` makes them (PKCS#1 v1.5 or DER ECDSA over
 * SHA-256 of the data) against a certificate. Used by the XTXApp layer's SOF_VerifySignedData.
 */
import { verify, X509Certificate } from "node:crypto";
import { YztError } from "../../protocol/errors.js";

export function verifyRawSignature(certificateDer: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificateDer);
  } catch {
    throw new YztError("BAD_REQUEST", "certificate: not a DER X.509 certificate");
  }
  try {
    return verify("sha256", data, certificate.publicKey, signature);
  } catch {
    // Malformed signature bytes are simply not a valid signature.
    return false;
  }
}
