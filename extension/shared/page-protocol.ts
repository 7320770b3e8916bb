/**
 * The page-facing half of the contract (API.md section 1): what `window.yzt` may ask the extension, with
 * the schemas the background uses to validate every call. The page script itself stays tiny and trusts
 * nothing; the background re-validates here and stamps the origin from the browser.
 */
import { badRequest } from "../../protocol/errors.js";
import { containerSchema, encryptedKeyPairSchema, generatedKeyAlgorithmSchema, subjectDnSchema } from "../../protocol/key-writing.js";
import {
  certificateIdSchema, challengeSchema, cipherFormatSchema, cmsProfileSchema, envelopeCipherSchema, hashAlgorithmSchema, sm2IdSchema,
  MAX_CIPHER_DATA_BYTES, MAX_SIGN_DATA_BYTES, pinSchema, purposeFilterSchema, signFormatSchema, tokenSerialSchema,
} from "../../protocol/messages.js";
import { array, base64, integer, object, optional, refine, string, type Infer, type Schema } from "../../protocol/validate.js";

export { PAGE_CHANNEL } from "./channel.js";
export { HASH_IN_EXTENSION_BYTES, MAX_PAGE_DATA_BYTES } from "./limits.js";
import { MAX_PAGE_DATA_BYTES } from "./limits.js";

const signParams = refine(
  object({
    certificateId: certificateIdSchema,
    format: signFormatSchema,
    data: optional(base64(MAX_PAGE_DATA_BYTES)),
    digest: optional(base64(32, 32)),
    hashAlgorithm: optional(hashAlgorithmSchema),
    sm2Id: optional(sm2IdSchema),
    cmsProfile: optional(cmsProfileSchema),
  }),
  (params, path) => {
    if ((params.data === undefined) === (params.digest === undefined)) throw badRequest(`${path}: exactly one of data or digest is required`);
    if (params.digest !== undefined && params.format === "pkcs7-attached") {
      throw badRequest(`${path}.digest: allowed with "raw" and "pkcs7-detached" only`);
    }
  },
);

export const pageMethodParams = {
  version: object({}),
  status: object({}),
  listCertificates: object({ purpose: optional(purposeFilterSchema) }),
  selectCertificate: object({ purpose: optional(purposeFilterSchema), issuer: optional(string({ min: 1, max: 256 })) }),
  login: object({ certificateId: certificateIdSchema, challenge: challengeSchema }),
  sign: signParams,
  changePin: object({ tokenSerial: tokenSerialSchema }),
  logout: object({}),
  submissionBegin: object({ submissionId: integer(1, Number.MAX_SAFE_INTEGER), label: string({ max: 200 }), tokenSerials: optional(array(tokenSerialSchema, 64)) }),
  submissionEnd: object({ submissionId: integer(1, Number.MAX_SAFE_INTEGER) }),
  // Additions to API.md: the certificate's life cycle, for issuer origins only, each write behind the consent window.
  unlockPin: object({ tokenSerial: tokenSerialSchema, adminPin: pinSchema, newPin: optional(pinSchema) }),
  listContainers: object({ tokenSerial: tokenSerialSchema }),
  generateKeyPair: object({ tokenSerial: tokenSerialSchema, container: containerSchema, keyAlgorithm: generatedKeyAlgorithmSchema }),
  createCertificateRequest: object({ tokenSerial: tokenSerialSchema, container: containerSchema, subject: subjectDnSchema }),
  importCertificate: object({ tokenSerial: tokenSerialSchema, container: containerSchema, certificate: base64(64 * 1024, 16), encryptedKeyPair: optional(encryptedKeyPairSchema) }),
  deleteContainer: object({ tokenSerial: tokenSerialSchema, container: containerSchema }),
  // Internal to the XTXApp compatibility layer (not on window.yzt); refused unless enabled for the site.
  xtxEnabled: object({}),
  xtxLogin: object({ certificateId: certificateIdSchema, pin: pinSchema }),
  xtxChangePin: object({ tokenSerial: tokenSerialSchema, oldPin: pinSchema, newPin: pinSchema }),
  xtxCertInfo: object({ certificate: base64(64 * 1024, 16) }),
  xtxVerify: object({ certificate: base64(64 * 1024, 16), data: base64(MAX_SIGN_DATA_BYTES), signature: base64(1024, 8) }),
  xtxIsLogin: object({ tokenSerial: tokenSerialSchema }),
  xtxLogout: object({ tokenSerial: tokenSerialSchema }),
  xtxVerifyMessage: object({ signature: base64(MAX_SIGN_DATA_BYTES, 16), data: optional(base64(MAX_SIGN_DATA_BYTES)) }),
  xtxValidateCert: object({ certificate: base64(64 * 1024, 16) }),
  xtxEncrypt: object({ certificate: base64(64 * 1024, 16), data: base64(MAX_CIPHER_DATA_BYTES), format: cipherFormatSchema, cipher: optional(envelopeCipherSchema) }),
  xtxDecrypt: object({ certificateId: certificateIdSchema, data: base64(MAX_CIPHER_DATA_BYTES + 64 * 1024, 1), format: cipherFormatSchema }),
  xtxSignXml: object({ certificateId: certificateIdSchema, xml: base64(MAX_CIPHER_DATA_BYTES, 1) }),
  xtxVerifyXml: object({ xml: base64(MAX_CIPHER_DATA_BYTES, 1) }),
  /** The page uses BJCA's synchronous library (blocking XHR to /synctl), which no extension can answer. */
  xtxSyncDetected: object({}),
} satisfies Record<string, Schema<unknown>>;

export type PageMethod = keyof typeof pageMethodParams;
export type PageParams<M extends PageMethod> = Infer<(typeof pageMethodParams)[M]>;

export function isPageMethod(name: unknown): name is PageMethod {
  return typeof name === "string" && Object.hasOwn(pageMethodParams, name);
}

/** Messages on the runtime port between content script and background. */
export type ContentToBackground =
  | { type: "call"; id: number; method: string; params: unknown };
export type BackgroundToContent =
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; error: { code: string; message: string; data?: Record<string, unknown> } }
  | { type: "event"; event: string; data: { tokenSerial?: string } }
  /** Internal to the page script (not a window.yzt event): these submissions used the key that went. */
  | { type: "event"; event: "submissionaborted"; data: { tokenSerial?: string; submissionIds: number[] } }
  /** show: the removal warning for this key (company: whose key it is); hide: only if it is this key's. */
  | { type: "warning"; show: boolean; tokenSerial?: string; label?: string; company?: string };
