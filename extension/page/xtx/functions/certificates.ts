/** Certificate functions: the user list, exporting certificates, certificate fields and validation. */
import type { CertificateInfo } from "../../../../protocol/messages.js";
import { YztError } from "../../bridge.js";
import { ENCRYPT_METHODS, SGD_SHA256_RSA, SGD_SM3_SM2, SIGN_METHODS } from "../codes.js";
import { xtxCertId } from "../cert-id.js";
import { XtxFailure, type XtxContext, type XtxFunction } from "../service.js";
import { base64Argument } from "./text.js";
import { SOF_BAD_PARAMETER } from "../codes.js";

/** YYYYMMDDHHMMSS in Beijing time, as BJCA returns validity dates. */
function beijingTime(iso: string): string {
  const shifted = new Date(new Date(iso).getTime() + 8 * 3_600_000).toISOString();
  return shifted.slice(0, 19).replace(/[-T:]/g, "");
}

function info(context: XtxContext, certificate: unknown): Promise<CertificateInfo> {
  return context.bridge.call<CertificateInfo>("xtxCertInfo", { certificate: base64Argument(certificate, "Cert") });
}

/** SOF_GetCertInfo type codes (BJCA's numbering, not GM/T 0006's). */
function certificateField(certificate: CertificateInfo, type: number): string | undefined {
  const name = (record: Record<string, string>, key: string) => record[key];
  const email = (record: Record<string, string>) => record.emailAddress ?? record.E;
  const byType: Record<number, () => string | undefined> = {
    1: () => `V${certificate.version}`,
    2: () => certificate.serialNumber.toUpperCase(),
    3: () => certificate.keyAlgorithm,
    4: () => name(certificate.issuer, "C"), 5: () => name(certificate.issuer, "O"), 6: () => name(certificate.issuer, "OU"),
    7: () => name(certificate.issuer, "ST"), 8: () => name(certificate.issuer, "CN"), 9: () => name(certificate.issuer, "L"),
    10: () => email(certificate.issuer),
    11: () => beijingTime(certificate.notBefore),
    12: () => beijingTime(certificate.notAfter),
    13: () => name(certificate.subject, "C"), 14: () => name(certificate.subject, "O"), 15: () => name(certificate.subject, "OU"),
    16: () => name(certificate.subject, "ST"), 17: () => name(certificate.subject, "CN"), 18: () => name(certificate.subject, "L"),
    19: () => email(certificate.subject),
    20: () => certificate.publicKey,
    33: () => certificate.subjectDn,
    34: () => certificate.issuerDn,
    35: () => certificate.uniqueId,
  };
  return byType[type]?.();
}

function present(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new YztError("NO_CERTIFICATE", `the certificate has no ${what}`);
  return value;
}

const VALIDATION_CODES: Record<string, number> = { valid: 0, untrusted: -1, expired: -2, notYetValid: -5 };

export const certificateFunctions: Record<string, XtxFunction> = {
  SOF_GetUserList: {
    kind: "string",
    keepsError: true,
    aliases: ["GetUserList"],
    run: async (context) => (await context.certificates("sign")).map((c) => `${c.subject.CN ?? c.holderName}||${xtxCertId(c)}&&&`).join(""),
  },
  SOF_ExportUserCert: { kind: "string", aliases: ["GetSignCert"], run: async (context, id) => (await context.signCertificate(id)).der },
  SOF_ExportExChangeUserCert: { kind: "string", aliases: ["GetExchCert"], run: async (context, id) => (await context.exchangeCertificate(id)).der },
  SOF_GetCertInfo: {
    kind: "string",
    aliases: ["GetCertBasicinfo"],
    run: async (context, certificate, type) => present(certificateField(await info(context, certificate), Number(type)), `field ${String(type)}`),
  },
  SOF_GetCertInfoByOid: {
    kind: "string",
    aliases: ["GetExtCertInfoByOID"],
    run: async (context, certificate, oid) => present((await info(context, certificate)).extensionTexts[String(oid)], `extension ${String(oid)}`),
  },
  SOF_GetCertEntity: { kind: "string", aliases: ["GetCertEntity"], run: async (context, certificate) => present((await info(context, certificate)).uniqueId, "unique id") },
  SOF_ValidateCert: {
    kind: "number",
    aliases: ["ValidateCert"],
    run: async (context, certificate) => {
      const { status } = await context.bridge.call<{ status: string }>("xtxValidateCert", { certificate: base64Argument(certificate, "Cert") });
      return VALIDATION_CODES[status] ?? -6;
    },
  },
  SOF_SetSignMethod: {
    kind: "number",
    aliases: ["SetSignMethod"],
    run: async (context, method) => {
      if (!SIGN_METHODS.includes(Number(method))) throw new XtxFailure(SOF_BAD_PARAMETER, `不支持的签名算法 ${String(method)} (unsupported sign method)`);
      context.signMethod = Number(method);
      return 0;
    },
  },
  SOF_GetSignMethod: {
    kind: "number",
    run: async (context) => context.signMethod ?? ((await context.certificates("sign"))[0]?.keyAlgorithm === "SM2" ? SGD_SM3_SM2 : SGD_SHA256_RSA),
  },
  SOF_SetEncryptMethod: {
    kind: "number",
    run: async (context, method) => {
      if (!Object.hasOwn(ENCRYPT_METHODS, Number(method))) throw new XtxFailure(SOF_BAD_PARAMETER, `不支持的加密算法 ${String(method)}，可用 SM4-CBC (0x402) 或 3DES-CBC (0x2002)`);
      context.encryptMethod = Number(method);
      return 0;
    },
  },
  SOF_GetEncryptMethod: { kind: "number", run: async (context) => context.encryptMethod },
};
