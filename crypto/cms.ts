/**
 * CMS SignedData (RFC 5652; GM/T 0010 for SM2) for `yzt.sign` pkcs7 formats, built with pkijs. The private
 * key never leaves the token: the DER signed attributes go to a callback that signs them on the token.
 * Always detached here: attachContent (protocol/cms-attach.ts) embeds the content, as DER, in one place.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { badRequest } from "../protocol/errors.js";
import { CMS_CONTENT_TYPES, type CmsProfile } from "../protocol/cms-attach.js";
import type { CmsAlgorithmIds } from "./algorithms.js";
import { ensurePkijsEngine } from "./crypto-engine.js";

const ATTRIBUTE = {
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
} as const;

export interface SignedDataOptions {
  /** Signer certificate, DER. */
  certificate: Uint8Array;
  /** The content's digest with the algorithm's hash (32 bytes for SHA-256 and SM3). */
  contentDigest: Uint8Array;
  signingTime: Date;
  algorithm: CmsAlgorithmIds;
  /** Content-type OIDs: PKCS#7 (default) or GM/T 0010. */
  profile?: CmsProfile;
  /** Signs the DER signed attributes on the token and returns the DER signature value. */
  signAttributes: (signedAttributesDer: Uint8Array) => Promise<Uint8Array>;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** DER orders SET OF by encoding; verifiers re-encode the attributes, so the order must be canonical. */
function canonicalAttributes(attributes: pkijs.Attribute[]): pkijs.Attribute[] {
  return attributes
    .map((attribute) => ({ attribute, der: new Uint8Array(attribute.toSchema().toBER(false)) }))
    .sort((x, y) => compareBytes(x.der, y.der))
    .map((entry) => entry.attribute);
}

function algorithmIdentifier(oid: string, nullParameters: boolean): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: oid, ...(nullParameters ? { algorithmParams: new asn1js.Null() } : {}) });
}

/** The DER signed attributes as they are signed: an explicit SET OF (tag 0x31). */
export function signedAttributesDer(attributes: pkijs.Attribute[]): Uint8Array {
  return new Uint8Array(new asn1js.Set({ value: attributes.map((attribute) => attribute.toSchema()) }).toBER(false));
}

export async function buildSignedData(options: SignedDataOptions): Promise<Uint8Array> {
  ensurePkijsEngine();
  if (options.contentDigest.length !== 32) throw badRequest("content digest must be 32 bytes (SHA-256 or SM3)");
  const contentTypes = CMS_CONTENT_TYPES[options.profile ?? "pkcs7"];
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(options.certificate));

  const attributes = canonicalAttributes([
    new pkijs.Attribute({ type: ATTRIBUTE.contentType, values: [new asn1js.ObjectIdentifier({ value: contentTypes.data })] }),
    new pkijs.Attribute({ type: ATTRIBUTE.signingTime, values: [new asn1js.UTCTime({ valueDate: options.signingTime })] }),
    new pkijs.Attribute({ type: ATTRIBUTE.messageDigest, values: [new asn1js.OctetString({ valueHex: options.contentDigest })] }),
  ]);
  const signature = await options.signAttributes(signedAttributesDer(attributes));
  const { digest, signature: signatureOid, digestNull, signatureNull } = options.algorithm;

  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
    digestAlgorithm: algorithmIdentifier(digest, digestNull),
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
    signatureAlgorithm: algorithmIdentifier(signatureOid, signatureNull),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [algorithmIdentifier(digest, digestNull)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: contentTypes.data }),
    certificates: [certificate],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: contentTypes.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}
