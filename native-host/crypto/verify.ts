/**
 * Server-side checks for tax-hall sites (exported by the package): verifyLoginToken() validates a LoginToken
 * from `yzt.login` completely — format, origin, challenge, signature, validity dates and the chain to the
 * site's trusted roots — and says who logged in. verifyCmsSignature() checks a detached or attached CMS.
 */
import { createPublicKey, verify as verifySignature, X509Certificate } from "node:crypto";
import { parseCertificate, type ParsedCertificate } from "./certificate.js";
import { checkChain, parsePemBundle } from "./chain.js";
import { loginMessage, LOGIN_TOKEN_FORMAT } from "../../protocol/login-token.js";
import { ensurePkijsEngine } from "./crypto-engine.js";
import * as pkijs from "pkijs";
import { createHash } from "node:crypto";
import { detachContent } from "../../protocol/cms-attach.js";
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

export type LoginTokenFailure =
  | "format" | "origin" | "challenge" | "signature" | "expired" | "notYetValid" | "untrusted" | "algorithm";

/** A verification failure with a machine-readable reason a site can act on. */
export class VerificationError<Reason extends string> extends Error {
  constructor(readonly reason: Reason, message: string) {
    super(message);
  }
}

export class LoginTokenError extends VerificationError<LoginTokenFailure> {
  override readonly name = "LoginTokenError";
}

export interface VerifyLoginOptions {
  /** The challenge this site issued for this login (single use: the site must not accept it twice). */
  challenge: string;
  /** This site's own origin, e.g. "https://etax.beijing.chinatax.gov.cn". */
  origin: string;
  /** Trusted CA certificates (PEM text, PEM bundle or DER). Intermediates may be given here too. */
  trustedRoots: Array<string | Uint8Array>;
  now?: Date;
}

export interface VerifiedLogin {
  holderName: string;
  creditCode?: string;
  certificate: ParsedCertificate;
}

function toCertificates(inputs: Array<string | Uint8Array>): X509Certificate[] {
  return inputs.flatMap((input) => (typeof input === "string" ? parsePemBundle(input) : [new X509Certificate(input)]));
}

function field(token: Record<string, unknown>, name: string): string {
  const value = token[name];
  if (typeof value !== "string" || value.length === 0) throw new LoginTokenError("format", `login token field ${name} is missing`);
  return value;
}

export function verifyLoginToken(input: unknown, options: VerifyLoginOptions): VerifiedLogin {
  if (typeof input !== "object" || input === null) throw new LoginTokenError("format", "login token must be an object");
  const token = input as Record<string, unknown>;
  if (token.format !== LOGIN_TOKEN_FORMAT) throw new LoginTokenError("format", `unsupported login token format ${String(token.format)}`);
  const origin = field(token, "origin");
  const challenge = field(token, "challenge");
  const algorithm = field(token, "algorithm");
  if (origin !== options.origin) throw new LoginTokenError("origin", `token was made for ${origin}, not ${options.origin}`);
  if (challenge !== options.challenge) throw new LoginTokenError("challenge", "token answers a different challenge");

  const der = Buffer.from(field(token, "certificate"), "base64");
  let x509: X509Certificate;
  let parsed: ParsedCertificate;
  try {
    x509 = new X509Certificate(der);
    parsed = parseCertificate(der);
  } catch {
    throw new LoginTokenError("format", "token certificate is not a valid X.509 certificate");
  }
  const signature = Buffer.from(field(token, "signature"), "base64");
  const message = loginMessage(origin, challenge);
  const key = createPublicKey(x509.publicKey.export({ format: "pem", type: "spki" }));
  let valid: boolean;
  if (algorithm === "RS256" && parsed.keyAlgorithm === "RSA") valid = verifySignature("sha256", message, key, signature);
  else if (algorithm === "ES256" && parsed.keyAlgorithm === "EC") valid = verifySignature("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  else if (algorithm === "SM2SM3" && parsed.keyAlgorithm === "SM2" && parsed.publicKeyPoint) {
    valid = signature.length === 64 && sm2Verify(parsed.publicKeyPoint, sm2Digest(parsed.publicKeyPoint, message), signature);
  } else throw new LoginTokenError("algorithm", `algorithm ${algorithm} does not match the certificate key`);
  if (!valid) throw new LoginTokenError("signature", "login token signature is invalid");

  const now = options.now ?? new Date();
  if (now < parsed.notBefore) throw new LoginTokenError("notYetValid", "certificate is not valid yet");
  if (now > parsed.notAfter) throw new LoginTokenError("expired", "certificate has expired");
  const chain = checkChain(der, toCertificates(options.trustedRoots), now);
  if (chain.status !== "ok") {
    throw new LoginTokenError("untrusted", chain.status === "incomplete" ? `issuer not trusted: ${chain.missingIssuer}` : chain.reason);
  }
  return { holderName: parsed.holderName, ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}), certificate: parsed };
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
 * Verifies a DER CMS SignedData from `yzt.sign` (attached, or detached with `content`): the signature over
 * the signed attributes and content digest, the signer's validity at signing time, and the chain.
 */
export async function verifyCmsSignature(
  signature: Uint8Array,
  options: { content?: Uint8Array; trustedRoots: Array<string | Uint8Array>; now?: Date },
): Promise<VerifiedCms> {
  const { signatureValue: _signatureValue, ...opened } = await openCmsSignature(signature, options);
  const chain = checkChain(opened.certificate.der, toCertificates(options.trustedRoots), options.now ?? new Date());
  if (chain.status !== "ok") {
    throw new CmsVerificationError("untrusted", chain.status === "incomplete" ? `issuer not trusted: ${chain.missingIssuer}` : chain.reason);
  }
  return opened;
}

/**
 * Everything verifyCmsSignature checks except the chain, for callers that decide trust themselves (the
 * XTXApp layer's SOF_VerifySignedMessage checks the signature only, as BJCA's service does).
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
