/**
 * Envelopes and key encryption: SOF_EncryptData builds a PKCS#7 EnvelopedData for a certificate (content
 * cipher from SOF_SetEncryptMethod, SM4-CBC by default), SOF_DecryptData opens one with the key's
 * encryption certificate on the token; SOF_PubKeyEncrypt / SOF_PriKeyDecrypt are PKCS#1 v1.5 with the key.
 * Plaintexts are page strings (UTF-8), ciphertexts base64. Decryption needs the site's session on the key.
 */
import { ENCRYPT_METHODS } from "../codes.js";
import type { XtxContext, XtxFunction } from "../service.js";
import { base64Argument, base64Utf8, utf8Base64 } from "./text.js";

async function encrypt(context: XtxContext, certificate: unknown, data: unknown, format: "envelope" | "raw"): Promise<string> {
  const cipher = ENCRYPT_METHODS[context.encryptMethod];
  const result = await context.bridge.call<{ data: string }>("xtxEncrypt", {
    certificate: base64Argument(certificate, "Cert"), data: utf8Base64(data), format, ...(format === "envelope" && cipher ? { cipher } : {}),
  });
  return result.data;
}

async function decrypt(context: XtxContext, id: unknown, data: unknown, format: "envelope" | "raw"): Promise<string> {
  const certificate = await context.signCertificate(id).catch(() => context.exchangeCertificate(id));
  const result = await context.bridge.call<{ data: string }>("xtxDecrypt", { certificateId: certificate.id, data: base64Argument(data, "InData"), format });
  return base64Utf8(result.data);
}

export const envelopeFunctions: Record<string, XtxFunction> = {
  SOF_EncryptData: { kind: "string", aliases: ["EncodeP7Enveloped"], run: (context, cert, data) => encrypt(context, cert, data, "envelope") },
  SOF_EncryptDataEx: { kind: "string", run: (context, cert, data) => encrypt(context, cert, data, "envelope") },
  SOF_DecryptData: { kind: "string", aliases: ["DecodeP7Enveloped"], run: (context, id, data) => decrypt(context, id, data, "envelope") },
  SOF_PubKeyEncrypt: { kind: "string", aliases: ["PubKeyEncrypt"], run: (context, cert, data) => encrypt(context, cert, data, "raw") },
  SOF_PriKeyDecrypt: { kind: "string", aliases: ["PriKeyDecrypt"], run: (context, id, data) => decrypt(context, id, data, "raw") },
  SOF_PriKeyDecryptEx: { kind: "string", run: (context, id, data) => decrypt(context, id, data, "raw") },
};
