/**
 * Opens a CMS SignedData (PKCS#7 / GM/T 0010) from `yzt.sign`: parses it, checks the signature over the
 * signed attributes and the content digest (SM2 signer infos with our own SM2 code, the rest with pkijs) and
 * the signer's validity at signing time, and says what it carries. Trust (the chain) is the caller's: the
 * XTXApp layer checks signatures only, as BJCA's service does, and the server kit adds the chain
 * (server/cms-signature.ts).
 */
import * as pkijs from "pkijs";
import { createHash } from "node:crypto";
import { parseCertificate, type ParsedCertificate } from "./certificate.js";
import { ensurePkijsEngine } from "./crypto-engine.js";
import { detachContent } from "../protocol/cms-attach.js";
import { derToRs, sm2Digest, sm2Verify } from "./sm2.js";

const SM2_WITH_SM3 = "1.2.156.10197.1.501";
const SM3 = "1.2.156.10197.1.401";
const MESSAGE_DIGEST = "1.2.840.113549.1.9.4";

/**
 * SM2 signer infos (GM/T 0010), which pkijs cannot verify: the messageDigest attribute must be the SM3 of the
 * content, and the SM2 signature (Z with the default ID) must cover the DER signed attributes.
 */
function verifySm2SignerInfo(signerInfo: pkijs.SignerInfo, certificate: pkijs.Certificate, content: Uint8Array): boolean {
  if (signerInfo.digestAlgorithm.algorithmId !== SM3 || !signerInfo.signedAttrs) return false;
  const digestAttribute = signerInfo.signedAttrs.attributes.find((attribute) => attribute.type === MESSAGE_DIGEST);
  const claimed = (digestAttribute?.values[0] as { valueBlock?: { valueHexView?: Uint8Array } } | undefined)?.valueBlock?.valueHexView;
  const actual = createHash("sm3").update(content).digest();
  if (!claimed || !actual.equals(claimed)) return false;
  // What was signed is the attributes as an explicit SET OF: the stored [0] IMPLICIT bytes with tag 0x31.
  const signedBytes = new Uint8Array(signerInfo.signedAttrs.encodedValue);
  signedBytes[0] = 0x31;
  const point = new Uint8Array(certificate.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  return sm2Verify(point, sm2Digest(point, signedBytes), derToRs(new Uint8Array(signerInfo.signature.valueBlock.valueHexView)));
}

/** A verification failure with a machine-readable reason a site can act on. */
export class VerificationError<Reason extends string> extends Error {
  constructor(readonly reason: Reason, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export type CmsFailure = "format" | "signature" | "untrusted" | "expired" | "notYetValid";

export class CmsVerificationError extends VerificationError<CmsFailure> {
  override readonly name = "CmsVerificationError";
}

export interface VerifiedCms {
  holderName: string;
  creditCode?: string;
  certificate: ParsedCertificate;
  signingTime?: Date;
  /** The signed content: the embedded one for attached signatures, else the one given. */
  content: Uint8Array;
}

/** What a signed message holds, once its signature and the signer's dates are checked. */
export interface OpenedCms extends VerifiedCms {
  /** The signer's signature value as stored in the SignerInfo. */
  signatureValue: Uint8Array;
}

/**
 * Everything but the chain, for callers that decide trust themselves: the XTXApp layer's
 * SOF_VerifySignedMessage checks the signature only, as BJCA's service does; the server kit's
 * verifyCmsSignature adds the chain to the site's roots.
 */
export async function openCmsSignature(signature: Uint8Array, options: { content?: Uint8Array; now?: Date }): Promise<OpenedCms> {
  ensurePkijsEngine();
  // Attached signatures of large documents: split the content off first, so the ASN.1 parser only ever sees
  // the small detached form (asn1js refuses content of tens of MB). Other encodings go to pkijs as they are.
  let detachedForm: Uint8Array = new Uint8Array(signature);
  let embedded: Uint8Array | undefined;
  try {
    ({ detached: detachedForm, content: embedded } = detachContent(detachedForm));
  } catch {
    // Detached already, or BER from another producer.
  }
  let signedData: pkijs.SignedData;
  try {
    const contentInfo = pkijs.ContentInfo.fromBER(new Uint8Array(detachedForm));
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch {
    throw new CmsVerificationError("format", "not a DER CMS SignedData");
  }
  embedded ??= signedData.encapContentInfo.eContent ? new Uint8Array(signedData.encapContentInfo.eContent.getValue()) : undefined;
  const content = embedded ?? options.content;
  if (!content) throw new CmsVerificationError("format", "detached signature: the signed content is required");
  const signerCertificate = signedData.certificates?.find((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  if (!signerCertificate) throw new CmsVerificationError("format", "the signature carries no signer certificate");
  let verified = false;
  try {
    if (signedData.signerInfos[0]?.signatureAlgorithm.algorithmId === SM2_WITH_SM3) {
      verified = verifySm2SignerInfo(signedData.signerInfos[0], signerCertificate, content);
    } else {
      const outcome = await signedData.verify({ signer: 0, data: new Uint8Array(content).buffer, checkChain: false, extendedMode: true });
      verified = outcome.signatureVerified === true;
    }
  } catch {
    verified = false;
  }
  if (!verified) throw new CmsVerificationError("signature", "the CMS signature does not match the content");

  const der = new Uint8Array(signerCertificate.toSchema(true).toBER(false));
  const parsed = parseCertificate(der);
  const signingTimeAttribute = signedData.signerInfos[0]?.signedAttrs?.attributes.find((a) => a.type === "1.2.840.113549.1.9.5");
  const timeValue = signingTimeAttribute?.values[0] as { toDate?: () => Date } | undefined;
  const signingTime = timeValue?.toDate?.();
  const at = signingTime ?? options.now ?? new Date();
  if (at < parsed.notBefore) throw new CmsVerificationError("notYetValid", "the certificate was not valid yet when signing");
  if (at > parsed.notAfter) throw new CmsVerificationError("expired", "the certificate had expired when signing");
  return {
    holderName: parsed.holderName,
    ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}),
    certificate: parsed,
    ...(signingTime ? { signingTime } : {}),
    content,
    signatureValue: new Uint8Array(signedData.signerInfos[0]!.signature.valueBlock.valueHexView),
  };
}
