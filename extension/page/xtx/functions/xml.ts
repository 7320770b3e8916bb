/**
 * Enveloped XML signatures: SOF_SignDataXML signs a whole XML document (the host builds a standard
 * XML-DSig that xmlsec1 verifies), SOF_VerifySignedDataXML checks one, SOF_GetXMLSignatureInfo reads it.
 * BJCA publishes no numbering for SOF_GetXMLSignatureInfo; the one used here is in the README.
 */
import type { XmlSignatureReport } from "../../../../protocol/messages.js";
import { YztError } from "../../bridge.js";
import { xtxCertId } from "../cert-id.js";
import { SOF_VERIFY_FAILED } from "../codes.js";
import { XtxFailure, type XtxContext, type XtxFunction } from "../service.js";
import { base64Utf8, utf8Base64 } from "./text.js";

async function report(context: XtxContext, xml: unknown): Promise<XmlSignatureReport> {
  const result = await context.bridge.call<XmlSignatureReport>("xtxVerifyXml", { xml: utf8Base64(xml) });
  if (!result.valid) throw new XtxFailure(SOF_VERIFY_FAILED, `XML 签名验证失败 (the XML signature does not verify: ${result.failure ?? "signature"})`);
  return result;
}

/** SOF_GetXMLSignatureInfo types: 1 document without the signature, 2 digest, 3 signature value, 4 certificate, 5 digest method, 6 signature method. */
const INFO_FIELDS: Record<number, keyof XmlSignatureReport> = { 1: "content", 2: "digestValue", 3: "signatureValue", 4: "certificate", 5: "digestAlgorithm", 6: "signatureAlgorithm" };

export const xmlFunctions: Record<string, XtxFunction> = {
  SOF_SignDataXML: {
    kind: "string",
    run: async (context, id, xml) => {
      const certificate = await context.signCertificate(id);
      const result = await context.bridge.call<{ xml: string }>("xtxSignXml", { certificateId: certificate.id, xml: utf8Base64(xml) });
      context.lastSignCertId = xtxCertId(certificate);
      return base64Utf8(result.xml);
    },
  },
  SOF_VerifySignedDataXML: { kind: "bool", run: async (context, xml) => (await report(context, xml)).valid },
  SOF_GetXMLSignatureInfo: {
    kind: "string",
    run: async (context, xml, type) => {
      const field = INFO_FIELDS[Number(type)];
      if (!field) throw new YztError("BAD_REQUEST", `type: expected 1..6, got ${String(type)}`);
      const value = (await report(context, xml))[field];
      if (typeof value !== "string") throw new YztError("BAD_REQUEST", `the signature has no ${field}`);
      return value;
    },
  },
};
