/**
 * verifyCmsSignature: what a tax-hall server checks of a signed declaration from `yzt.sign` — the CMS
 * signature over the content, the signer's validity at signing time (both from the host's CMS code, which
 * the XTXApp layer shares) and, on top, the chain to the site's trusted roots.
 */
import { CmsVerificationError, openCmsSignature, type VerifiedCms } from "../crypto/cms-open.js";
import { untrustedReason, type TrustedRoots } from "./trusted-roots.js";

export interface VerifyCmsOptions {
  /** The signed content, for a detached signature. */
  content?: Uint8Array;
  trustedRoots: TrustedRoots;
  now?: Date;
}

/**
 * Verifies a DER CMS SignedData (attached, or detached with `content`). Throws CmsVerificationError with
 * `.reason`: format | signature | untrusted | expired | notYetValid.
 */
export async function verifyCmsSignature(signature: Uint8Array, options: VerifyCmsOptions): Promise<VerifiedCms> {
  const { signatureValue: _signatureValue, ...opened } = await openCmsSignature(signature, options);
  const untrusted = untrustedReason(opened.certificate.der, options.trustedRoots, options.now ?? new Date());
  if (untrusted) throw new CmsVerificationError("untrusted", untrusted);
  return opened;
}
