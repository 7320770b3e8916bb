/**
 * Enveloped XML signatures (W3C XML-DSig) for SOF_SignDataXML / SOF_VerifySignedDataXML: the whole document
 * is the reference (URI=""), with the enveloped-signature transform and exclusive C14N, SHA-256 digests, and
 * the signer's certificate in KeyInfo/X509Data, which is what xmlsec1 and Java/.NET verifiers accept.
 * Canonicalisation is xml-crypto's; the signature value comes from the token: xml-crypto is handed a
 * recording "algorithm" that captures the canonical SignedInfo, the token signs those bytes, and the value
 * takes the placeholder's place.
 *
 * RSA (rsa-sha256) and EC P-256 (ecdsa-sha256, r‖s) only: XML-DSig has no registered SM2 algorithm, so an
 * SM2 key answers UNSUPPORTED_ALGORITHM rather than a signature nobody else could check.
 */
import { X509Certificate } from "node:crypto";
import { DOMParser } from "@xmldom/xmldom";
import { SignedXml } from "xml-crypto";
import { YztError } from "../protocol/errors.js";
import type { KeyAlgorithm } from "../protocol/types.js";
import type { XmlSignatureReport } from "../protocol/messages.js";
import { ecdsaDerToRaw } from "./signature-encoding.js";

const DSIG = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";
const ALGORITHMS: Partial<Record<KeyAlgorithm, string>> = {
  RSA: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  EC: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
};
const PLACEHOLDER = "yzt-bridge-signature-value-placeholder";

function parseDocument(xml: string): Document {
  let failed = false;
  let document: Document | undefined;
  try {
    document = new DOMParser({ onError: () => (failed = true) }).parseFromString(xml, "text/xml") as unknown as Document;
  } catch {
    failed = true;
  }
  if (failed || !document?.documentElement) throw new YztError("BAD_REQUEST", "InData: not a well-formed XML document");
  return document;
}

/** Refuses, before any PIN is asked, what cannot become an XML signature: unsupported keys, malformed XML. */
export function checkXmlSignable(xml: string, keyAlgorithm: KeyAlgorithm): string {
  const algorithm = ALGORITHMS[keyAlgorithm];
  if (!algorithm) throw new YztError("UNSUPPORTED_ALGORITHM", `XML signatures with ${keyAlgorithm} keys are not supported: XML-DSig has no registered algorithm for them`);
  parseDocument(xml);
  return algorithm;
}

/** Signs `xml` (a whole document) with an enveloped signature; `sign` is the token's raw signature over bytes. */
export async function signXmlDocument(xml: string, certificateDer: Uint8Array, keyAlgorithm: KeyAlgorithm, sign: (bytes: Uint8Array) => Promise<Uint8Array>): Promise<string> {
  const algorithm = checkXmlSignable(xml, keyAlgorithm);
  let signedInfo: Buffer | null = null;
  class Recording {
    getSignature(material: Buffer | string): string {
      signedInfo = Buffer.from(material);
      return PLACEHOLDER;
    }
    verifySignature(): boolean {
      return false;
    }
    getAlgorithmName(): string {
      return algorithm!;
    }
  }
  const signer = new SignedXml({ privateKey: "unused: the token signs", publicCert: new X509Certificate(certificateDer).toString(), signatureAlgorithm: algorithm as never, canonicalizationAlgorithm: EXC_C14N });
  (signer.SignatureAlgorithms as Record<string, unknown>)[algorithm] = Recording;
  signer.addReference({ xpath: "/*", transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256, isEmptyUri: true });
  signer.computeSignature(xml, { location: { reference: "/*", action: "append" } });
  if (!signedInfo) throw new YztError("INTERNAL", "the XML signer produced no SignedInfo");
  let value = await sign(signedInfo);
  // XML-DSig wants ECDSA values as r‖s; the token's raw format is DER.
  if (keyAlgorithm === "EC") value = ecdsaDerToRaw(value, 32);
  return signer.getSignedXml().replace(PLACEHOLDER, Buffer.from(value).toString("base64"));
}

function textOf(parent: Element, name: string): string | undefined {
  const found = parent.getElementsByTagNameNS(DSIG, name)[0];
  return found?.textContent?.replace(/\s+/g, "") || undefined;
}

/** Checks an enveloped XML signature against the certificate it carries, and reports what it holds. */
export function verifyXmlDocument(xml: string): XmlSignatureReport {
  const document = parseDocument(xml);
  const signature = document.getElementsByTagNameNS(DSIG, "Signature")[0];
  if (!signature) return { valid: false, failure: "format" };
  const certificateText = textOf(signature, "X509Certificate");
  if (!certificateText) return { valid: false, failure: "format" };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(certificateText, "base64"));
  } catch {
    return { valid: false, failure: "format" };
  }
  const checker = new SignedXml({ publicCert: certificate.toString(), getCertFromKeyInfo: () => null });
  let valid = false;
  try {
    checker.loadSignature(signature as unknown as Node);
    valid = checker.checkSignature(xml);
  } catch {
    valid = false;
  }
  if (!valid) return { valid: false, failure: "signature" };
  const method = (name: string) => signature.getElementsByTagNameNS(DSIG, name)[0]?.getAttribute("Algorithm") || undefined;
  const found: Partial<Record<"digestValue" | "signatureValue" | "digestAlgorithm" | "signatureAlgorithm", string>> = {};
  for (const [field, value] of [
    ["digestValue", textOf(signature, "DigestValue")], ["signatureValue", textOf(signature, "SignatureValue")],
    ["digestAlgorithm", method("DigestMethod")], ["signatureAlgorithm", method("SignatureMethod")],
  ] as const) {
    if (value) found[field] = value;
  }
  // Checked already (from the text), so the parsed document can lose its signature to give the content.
  signature.parentNode!.removeChild(signature);
  return { valid: true, content: document.toString(), certificate: certificateText, ...found };
}
