/**
 * CMS SignedData (RFC 5652) for `yzt.sign` pkcs7 formats, built with pkijs. The private key never leaves
 * the token: we hash the DER signed attributes and hand that hash to a callback that signs on the token.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { ensurePkijsEngine } from "./crypto-engine.js";
import { badRequest } from "../../protocol/errors.js";
import type { KeyAlgorithm } from "../../protocol/types.js";
import { sha256 } from "./signature-encoding.js";

const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  sha256: "2.16.840.1.101.3.4.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
} as const;

export interface SignedDataOptions {
  /** Signer certificate, DER. */
  certificate: Uint8Array;
  /** SHA-256 of the content (32 bytes). */
  contentDigest: Uint8Array;
  signingTime: Date;
  keyAlgorithm: KeyAlgorithm;
  /** Signs the SHA-256 of the DER signed attributes on the token: PKCS#1 v1.5 bytes (RSA) or DER ECDSA-Sig-Value (EC). */
  signHash: (hashOfSignedAttributes: Uint8Array) => Promise<Uint8Array>;
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

/** A detached SignedData; attached signatures embed the content afterwards with attachContent(). */
export async function buildSignedData(options: SignedDataOptions): Promise<Uint8Array> {
  ensurePkijsEngine();
  if (options.contentDigest.length !== 32) throw badRequest("content digest must be a 32-byte SHA-256");
  const certificate = pkijs.Certificate.fromBER(new Uint8Array(options.certificate));

  const attributes = canonicalAttributes([
    new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
    new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: options.signingTime })] }),
    new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: options.contentDigest })] }),
  ]);
  // What is signed is the attributes as an explicit SET OF (tag 0x31), not the [0] IMPLICIT form stored below.
  const attributesDer = new asn1js.Set({ value: attributes.map((attribute) => attribute.toSchema()) }).toBER(false);
  const signature = await options.signHash(sha256(new Uint8Array(attributesDer)));

  const rsa = options.keyAlgorithm === "RSA";
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: certificate.issuer, serialNumber: certificate.serialNumber }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() }),
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
    signatureAlgorithm: rsa
      ? new pkijs.AlgorithmIdentifier({ algorithmId: OID.rsaEncryption, algorithmParams: new asn1js.Null() })
      : new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSha256 }),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() })],
    // Always detached here: attachContent (protocol/cms-attach.ts) embeds the content, as DER, in one place.
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
    certificates: [certificate],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}
