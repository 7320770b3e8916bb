/**
 * Signing and verifying: raw signatures (SOF_SignData; SM2 as base64 DER SEQUENCE{r, s}, the way BJCA's
 * service answers), PKCS#7 messages (SOF_SignMessage: flag 0 attached, 1 detached), their checks, and
 * signatures over a digest. Large data goes through the same page-side hashing as window.yzt.sign.
 */
import { rawSignatureToDer } from "../../../../protocol/der.js";
import type { VerifyMessageResult } from "../../../../protocol/messages.js";
import { base64ToBytes, bytesToBase64 } from "../../../shared/base64.js";
import { YztError } from "../../bridge.js";
import { signFromPage } from "../../large-sign.js";
import { xtxCertId } from "../cert-id.js";
import { SGD_SHA256, SGD_SM3, SOF_VERIFY_FAILED } from "../codes.js";
import { XtxFailure, type XtxContext, type XtxFunction } from "../service.js";
import { base64Argument, base64Utf8, utf8Base64 } from "./text.js";

type Format = "raw" | "pkcs7-detached" | "pkcs7-attached";

async function sign(context: XtxContext, format: Format, id: unknown, data: string): Promise<string> {
  const certificate = await context.signCertificate(id);
  const result = (await signFromPage(context.bridge, { certificateId: certificate.id, data, format })) as { signature: string };
  context.lastSignCertId = xtxCertId(certificate);
  if (format === "raw" && certificate.keyAlgorithm === "SM2") return bytesToBase64(rawSignatureToDer(base64ToBytes(result.signature)));
  return result.signature;
}

async function verifyRaw(context: XtxContext, certificate: unknown, data: string, signature: unknown): Promise<boolean> {
  const { valid } = await context.bridge.call<{ valid: boolean }>("xtxVerify", {
    certificate: base64Argument(certificate, "Cert"), data, signature: base64Argument(signature, "SignValue"),
  });
  return valid;
}

/** SOF_SignMessage(dwFlag, CertID, InData); XTXSAB's WebSocket path drops the flag and sends (CertID, InData). */
function messageArguments(params: unknown[]): { detached: boolean; id: unknown; data: unknown } {
  if (params.length === 2) return { detached: false, id: params[0], data: params[1] };
  return { detached: Number(params[0]) === 1, id: params[1], data: params[2] };
}

async function signMessage(context: XtxContext, params: unknown[], encode: (data: unknown) => string): Promise<string> {
  const { detached, id, data } = messageArguments(params);
  return sign(context, detached ? "pkcs7-detached" : "pkcs7-attached", id, encode(data));
}

function openMessage(context: XtxContext, message: unknown, data?: string): Promise<VerifyMessageResult> {
  return context.bridge.call<VerifyMessageResult>("xtxVerifyMessage", { signature: base64Argument(message, "MessageData"), ...(data ? { data } : {}) });
}

async function verifyMessage(context: XtxContext, message: unknown, data: string | undefined): Promise<boolean> {
  const report = await openMessage(context, message, data);
  if (!report.valid) throw new XtxFailure(SOF_VERIFY_FAILED, `签名验证失败 (the signature does not verify: ${report.failure ?? "signature"})`);
  return true;
}

const text = (value: unknown) => (value === undefined || value === null || value === "" ? undefined : utf8Base64(value));

export const signingFunctions: Record<string, XtxFunction> = {
  SOF_SignData: { kind: "string", aliases: ["SignedData"], run: (context, id, data) => sign(context, "raw", id, utf8Base64(data)) },
  SOF_SignDataBase64: { kind: "string", run: (context, id, data) => sign(context, "raw", id, base64Argument(data, "InData")) },
  SOF_VerifySignedData: { kind: "bool", aliases: ["VerifySignedData"], run: (context, cert, data, sig) => verifyRaw(context, cert, utf8Base64(data), sig) },
  SOF_VerifySignedDataBase64: { kind: "bool", run: (context, cert, data, sig) => verifyRaw(context, cert, base64Argument(data, "InData"), sig) },
  SOF_SignMessage: { kind: "string", aliases: ["SignByP7"], run: (context, ...params) => signMessage(context, params, utf8Base64) },
  SOF_SignMessageBase64: { kind: "string", run: (context, ...params) => signMessage(context, params, (data) => base64Argument(data, "InData")) },
  SOF_VerifySignedMessage: { kind: "bool", aliases: ["VerifyDatabyP7"], run: (context, message, data) => verifyMessage(context, message, text(data)) },
  SOF_VerifySignedMessageBase64: {
    kind: "bool",
    run: (context, message, data) => verifyMessage(context, message, data ? base64Argument(data, "InData") : undefined),
  },
  SOF_GetInfoFromSignedMessage: {
    kind: "string",
    run: async (context, message, type) => {
      const report = await openMessage(context, message);
      if (!report.valid) throw new XtxFailure(SOF_VERIFY_FAILED, `签名数据无效 (the signed message does not verify: ${report.failure ?? "signature"})`);
      // 1: the signed content (text), 2: the signer's certificate, 3: the signature value.
      const byType: Record<number, string | undefined> = { 1: report.content && base64Utf8(report.content), 2: report.certificate, 3: report.signature };
      const value = byType[Number(type)];
      if (value === undefined) throw new YztError("BAD_REQUEST", `type: expected 1, 2 or 3, got ${String(type)}`);
      return value;
    },
  },
  SOF_SignHashData: {
    kind: "string",
    aliases: ["SignHashData"],
    run: async (context, id, hash, algorithm) => {
      const hashAlgorithm = { [SGD_SM3]: "SM3", [SGD_SHA256]: "SHA-256" }[Number(algorithm)];
      if (!hashAlgorithm) throw new YztError("UNSUPPORTED_ALGORITHM", "hashAlg: SM3 (1) or SHA-256 (4) digests only");
      const certificate = await context.signCertificate(id);
      const result = (await context.bridge.call<{ signature: string }>("sign", {
        certificateId: certificate.id, digest: base64Argument(hash, "HashData"), format: "raw", hashAlgorithm,
      }));
      context.lastSignCertId = xtxCertId(certificate);
      return certificate.keyAlgorithm === "SM2" ? bytesToBase64(rawSignatureToDer(base64ToBytes(result.signature))) : result.signature;
    },
  },
  SOF_GetLastSignDataCertID: {
    kind: "string",
    run: async (context) => {
      if (!context.lastSignCertId) throw new YztError("NO_CERTIFICATE", "nothing was signed on this page yet");
      return context.lastSignCertId;
    },
  },
};
