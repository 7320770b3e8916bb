/**
 * Checks the XTXApp layer asks of the host without touching a token: is a signed message (CMS SignedData)
 * intact and what does it carry (SOF_VerifySignedMessage, SOF_GetInfoFromSignedMessage), and is a
 * certificate in date and issued by a CA we trust (SOF_ValidateCert). The ASN.1 code loads on first use.
 */
import type { X509Certificate } from "node:crypto";
import type { CertificateCheck, VerifyMessageResult } from "../protocol/messages.js";

export async function verifyMessage(params: { signature: string; data?: string }): Promise<VerifyMessageResult> {
  const { CmsVerificationError, openCmsSignature } = await import("./cms-open.js");
  try {
    const opened = await openCmsSignature(Buffer.from(params.signature, "base64"), {
      ...(params.data !== undefined ? { content: Buffer.from(params.data, "base64") } : {}),
    });
    return {
      valid: true,
      content: Buffer.from(opened.content).toString("base64"),
      certificate: Buffer.from(opened.certificate.der).toString("base64"),
      signature: Buffer.from(opened.signatureValue).toString("base64"),
      ...(opened.signingTime ? { signingTime: opened.signingTime.toISOString() } : {}),
    };
  } catch (error) {
    if (error instanceof CmsVerificationError) return { valid: false, failure: error.reason };
    throw error;
  }
}

export async function validateCertificate(der: Uint8Array, authorities: X509Certificate[], now = new Date()): Promise<CertificateCheck> {
  const [{ parseCertificate }, { checkChain }] = await Promise.all([import("./certificate.js"), import("./chain.js")]);
  const parsed = parseCertificate(der);
  if (checkChain(der, authorities, now).status !== "ok") return "untrusted";
  if (now > parsed.notAfter) return "expired";
  if (now < parsed.notBefore) return "notYetValid";
  return "valid";
}
