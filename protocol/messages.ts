/**
 * The yzt-bridge native-messaging protocol (API.md section 2), declared once: request schemas, result types
 * and event names. The host validates every request with these schemas; the extension validates what it
 * forwards with the same ones. Nothing here may import Node or browser APIs.
 *
 * The protocol/ folder is the contract both ends share (messages, value types, errors, origin rules,
 * LoginToken format, validation). It imports nothing of ours outside itself.
 */
import { badRequest, YztError, type ErrorBody } from "./errors.js";
import { containerSchema, encryptedKeyPairSchema, generatedKeyAlgorithmSchema, subjectDnSchema, type KeyWritingResults } from "./key-writing.js";
import { originSchema } from "./origin.js";
import type { LoginToken, SignResult, TokenInfo, YztCertificate } from "./types.js";
import { base64, integer, literal, object, optional, refine, string, type Infer, type Schema } from "./validate.js";

export const PROTOCOL_VERSION = 1 as const;
export const HOST_NAME = "org.yztbridge.host";
/** Frames larger than this are refused with BAD_REQUEST (API.md: 8 MiB). */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** Chrome refuses host messages of 1 MiB or more. */
export const MAX_RESPONSE_BYTES = 1024 * 1024 - 1;
/** `data` to sign, once decoded; leaves room for base64 growth and the JSON envelope under 8 MiB. */
export const MAX_SIGN_DATA_BYTES = 6 * 1024 * 1024 - 1024;

// ---------- field schemas ----------

/** `${tokenSerial}:${ckaIdHex}`: printable serial, even-length lower-case hex id. */
export const certificateIdSchema = string({
  min: 3, max: 200, pattern: /^[\x21-\x39\x3b-\x7e]{1,64}:(?:[0-9a-f]{2}){1,64}$/, patternName: "a certificate id (serial:hexid)",
});
/** The serial of the key a certificate id names (the part before the last colon). */
export function tokenSerialOfCertificate(certificateId: string): string {
  return certificateId.slice(0, certificateId.lastIndexOf(":"));
}
export const tokenSerialSchema = string({ min: 1, max: 64, pattern: /^[\x20-\x7e]+$/, patternName: "a token serial" });
/** PINs travel only between extension UI and host. Length rules follow common USB keys (4..16). */
export const PIN_MIN_LENGTH = 4;
export const PIN_MAX_LENGTH = 16;
export const pinSchema = string({ min: 1, max: 64 });
export const challengeSchema = string({ min: 16, max: 256 });
export const purposeFilterSchema = literal("sign", "encrypt");
export const signFormatSchema = literal("pkcs7-detached", "pkcs7-attached", "raw");
export const hashAlgorithmSchema = literal("SHA-256", "SM3");
/** The SM2 signer ID (API.md sm2Id): printable text, as every SM2 implementation takes it. */
export const sm2IdSchema = string({ min: 1, max: 128, pattern: /^[\x20-\x7e]+$/, patternName: "printable ASCII" });
export const cmsProfileSchema = literal("pkcs7", "gm");
/**
 * Who supplied a PIN: "user" (typed into the extension's own dialog, the default) or "page" (a legacy
 * XTXApp page's SOF_Login). Page-supplied PINs are rationed so that no page script can lock a key.
 */
export const pinSourceSchema = literal("user", "page");
/** Content ciphers of envelopes (SOF_SetEncryptMethod): SM4-CBC (国密, the default) and 3DES-CBC. */
export const envelopeCipherSchema = literal("SM4-CBC", "3DES-CBC");
/** envelope: CMS EnvelopedData for the key's certificate; raw: PKCS#1 v1.5 with the key itself (RSA). */
export const cipherFormatSchema = literal("envelope", "raw");
/** Plaintexts of envelopes and key encryption, once decoded. Decrypted replies must stay under 1 MiB. */
export const MAX_CIPHER_DATA_BYTES = 700 * 1024;
/** SHA-256 and SM3 digests (and SM2's e) are all 32 bytes. */
const DIGEST_BYTES = 32;

/** Whether a PIN is one a token would accept: its length in range, printable ASCII only. */
export function pinFollowsRules(pin: string): boolean {
  return pin.length >= PIN_MIN_LENGTH && pin.length <= PIN_MAX_LENGTH && /^[\x21-\x7e]+$/.test(pin);
}

/** PIN_INVALID (not BAD_REQUEST) for PINs a token would never accept, so the UI can say why. */
export function checkPinRules(pin: string, field = "pin"): void {
  if (!pinFollowsRules(pin)) {
    throw new YztError("PIN_INVALID", `${field} must be ${PIN_MIN_LENGTH}..${PIN_MAX_LENGTH} printable ASCII characters`);
  }
}

// ---------- method parameter schemas ----------

const signParams = refine(
  object({
    certificateId: certificateIdSchema,
    origin: originSchema,
    format: signFormatSchema,
    data: optional(base64(MAX_SIGN_DATA_BYTES)),
    digest: optional(base64(DIGEST_BYTES, DIGEST_BYTES)),
    hashAlgorithm: optional(hashAlgorithmSchema),
    sm2Id: optional(sm2IdSchema),
    cmsProfile: optional(cmsProfileSchema),
    pin: optional(pinSchema),
  }),
  (params, path) => {
    if ((params.data === undefined) === (params.digest === undefined)) {
      throw badRequest(`${path}: exactly one of data or digest is required`);
    }
    if (params.digest !== undefined && params.format === "pkcs7-attached") {
      throw badRequest(`${path}.digest: not allowed with format pkcs7-attached (the content must be embedded)`);
    }
  },
);

export const methodParams = {
  hello: object({ extension: optional(string({ max: 64 })) }),
  listTokens: object({}),
  listCertificates: object({ purpose: optional(purposeFilterSchema), tokenSerial: optional(tokenSerialSchema) }),
  login: object({
    certificateId: certificateIdSchema,
    origin: originSchema,
    pin: optional(pinSchema),
    pinSource: optional(pinSourceSchema),
    challenge: optional(challengeSchema),
  }),
  sign: signParams,
  logout: object({ origin: optional(originSchema), tokenSerial: optional(tokenSerialSchema) }),
  changePin: object({ tokenSerial: tokenSerialSchema, oldPin: pinSchema, newPin: pinSchema, pinSource: optional(pinSourceSchema) }),
  sessionStatus: object({ origin: originSchema, tokenSerial: tokenSerialSchema }),
  diagnose: object({}),
  repair: object({}),
  /** Additions to API.md for the XTXApp (BJCA SOF_*) compatibility layer: certificate fields and raw-signature checks. */
  certificateInfo: object({ certificate: base64(64 * 1024, 16) }),
  verifyRaw: object({ certificate: base64(64 * 1024, 16), data: base64(MAX_SIGN_DATA_BYTES), signature: base64(1024, 8) }),
  /** Checks a CMS SignedData (attached, or detached with `data`) and reports what it holds. */
  verifyMessage: object({ signature: base64(MAX_SIGN_DATA_BYTES, 16), data: optional(base64(MAX_SIGN_DATA_BYTES)) }),
  /** Validity dates and the chain to the configured CA certificates (SOF_ValidateCert). */
  validateCertificate: object({ certificate: base64(64 * 1024, 16) }),
  /** Encrypts for a certificate; needs no token. */
  encrypt: object({ certificate: base64(64 * 1024, 16), data: base64(MAX_CIPHER_DATA_BYTES), format: cipherFormatSchema, cipher: optional(envelopeCipherSchema) }),
  /** Enveloped XML-DSig over a whole document (UTF-8, base64 here), signed with the certificate's key. */
  signXml: object({ certificateId: certificateIdSchema, origin: originSchema, xml: base64(MAX_CIPHER_DATA_BYTES, 1), pin: optional(pinSchema) }),
  verifyXml: object({ xml: base64(MAX_CIPHER_DATA_BYTES, 1) }),
  /** Decrypts with the encryption key on the token that holds `certificateId` (any certificate of the key). */
  decrypt: object({ certificateId: certificateIdSchema, origin: originSchema, data: base64(MAX_CIPHER_DATA_BYTES + 64 * 1024, 1), format: cipherFormatSchema, pin: optional(pinSchema) }),
  /**
   * Additions to API.md, the certificate's life cycle (issuer origins only; the extension enforces that and
   * shows its consent window before each write): unlock with the admin PIN the issuer's server supplies, and
   * renewal — a new key pair in a new container, its certificate request, the certificates and the encryption
   * pair the CA sends back, the old container deleted last.
   */
  unlockPin: object({ origin: originSchema, tokenSerial: tokenSerialSchema, adminPin: pinSchema, newPin: pinSchema }),
  listContainers: object({ tokenSerial: tokenSerialSchema }),
  generateKeyPair: object({ origin: originSchema, tokenSerial: tokenSerialSchema, container: containerSchema, keyAlgorithm: generatedKeyAlgorithmSchema, pin: optional(pinSchema) }),
  createCertificateRequest: object({ origin: originSchema, tokenSerial: tokenSerialSchema, container: containerSchema, subject: subjectDnSchema, pin: optional(pinSchema) }),
  importCertificate: object({
    origin: originSchema, tokenSerial: tokenSerialSchema, container: containerSchema, certificate: base64(64 * 1024, 16),
    encryptedKeyPair: optional(encryptedKeyPairSchema), pin: optional(pinSchema),
  }),
  deleteContainer: object({ origin: originSchema, tokenSerial: tokenSerialSchema, container: containerSchema, pin: optional(pinSchema) }),
  /** Addition to API.md: settings chosen in the extension (the idle timeout of signing sessions). */
  configure: object({ idleTimeoutSeconds: optional(integer(1, 24 * 60 * 60)) }),
} satisfies Record<string, Schema<unknown>>;

export type Method = keyof typeof methodParams;
export type ParamsOf<M extends Method> = Infer<(typeof methodParams)[M]>;

export interface HelloResult {
  host: string;
  protocol: typeof PROTOCOL_VERSION;
  modules: string[];
  /** Issuer origins added in the host's config file (`issuerOrigins`), beside the default and policy ones. */
  issuerOrigins?: string[];
}


export interface LoginResult {
  tokenSerial: string;
  /** Present when a challenge was given. */
  loginToken?: LoginToken;
}

export type CheckStatus = "ok" | "warning" | "error";
export interface DiagnosticCheck {
  id: string;
  status: CheckStatus;
  /** Short machine-stable summary; the UI localises by `id` + `status`. */
  message: string;
  detail?: Record<string, unknown>;
}
export interface DiagnoseResult {
  host: string;
  checks: DiagnosticCheck[];
}

export interface ResultOf extends KeyWritingResults {
  hello: HelloResult;
  listTokens: TokenInfo[];
  listCertificates: YztCertificate[];
  login: LoginResult;
  sign: SignResult;
  logout: { loggedOut: string[] };
  changePin: { changed: true };
  sessionStatus: { active: boolean };
  diagnose: DiagnoseResult;
  repair: DiagnoseResult & { actions: string[] };
  configure: { idleTimeoutSeconds: number };
  certificateInfo: CertificateInfo;
  verifyRaw: { valid: boolean };
  verifyMessage: VerifyMessageResult;
  validateCertificate: { status: CertificateCheck };
  encrypt: { data: string };
  decrypt: { data: string };
  signXml: { xml: string };
  verifyXml: XmlSignatureReport;
}

/** verifyXml: whether an enveloped XML signature holds, and what it carries (base64 fields as in the XML). */
export interface XmlSignatureReport {
  valid: boolean;
  failure?: string;
  /** The document without its Signature element (text). */
  content?: string;
  certificate?: string;
  digestValue?: string;
  signatureValue?: string;
  digestAlgorithm?: string;
  signatureAlgorithm?: string;
}

/** verifyMessage: whether the signature holds, and (when it parses) what the message carries. */
export interface VerifyMessageResult {
  valid: boolean;
  /** Why it failed: "format" | "signature" | "untrusted" | "expired" | "notYetValid". */
  failure?: string;
  content?: string;
  certificate?: string;
  signature?: string;
  signingTime?: string;
}

/** validateCertificate, in SOF_ValidateCert's order: trusted and in date, or the first problem found. */
export type CertificateCheck = "valid" | "untrusted" | "expired" | "notYetValid";

/** certificateInfo: the API's certificate fields plus what legacy (BJCA SOF_GetCertInfo) pages ask for. */
export type CertificateInfo = Pick<YztCertificate, "serialNumber" | "notBefore" | "notAfter" | "subject" | "issuer" | "holderName" | "creditCode" | "keyAlgorithm"> & {
  version: number;
  signatureAlgorithm: string;
  subjectDn: string;
  issuerDn: string;
  uniqueId?: string;
  extensionTexts: Record<string, string>;
  /** base64 DER SubjectPublicKeyInfo. */
  publicKey: string;
};

// ---------- envelopes ----------

export const EVENT_NAMES = ["tokeninserted", "tokenremoved", "sessionended", "certificateschanged"] as const;
export type EventName = (typeof EVENT_NAMES)[number];
export interface EventData {
  tokenSerial?: string;
  /** sessionended: the origins whose grant ended. */
  origins?: string[];
  reason?: "logout" | "removed" | "idle" | "pinChanged" | "loginFailed";
}

export interface Request<M extends Method = Method> {
  id: number;
  method: M;
  params: ParamsOf<M>;
}
export type Response =
  | { id: number; result: unknown }
  | { id: number; error: ErrorBody };
export interface HostEvent {
  event: EventName;
  data: EventData;
}
export type HostMessage = Response | HostEvent;

function isMethod(name: string): name is Method {
  return Object.hasOwn(methodParams, name);
}

/** Best-effort id of a message that failed validation, so the error can still be addressed to its caller. */
export function requestIdOf(message: unknown): number | null {
  if (typeof message !== "object" || message === null) return null;
  const id = (message as Record<string, unknown>).id;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/** Validates a whole request; unknown methods and bad params are BAD_REQUEST naming the field. */
export function parseRequest(message: unknown): Request {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    throw badRequest("request: expected an object");
  }
  const envelope = object({
    id: integer(0, Number.MAX_SAFE_INTEGER),
    method: string({ min: 1, max: 64 }),
    params: optional({ parse: (value) => value }),
  }).parse(message, "request");
  if (!isMethod(envelope.method)) throw badRequest(`request.method: unknown method "${envelope.method}"`);
  const params = methodParams[envelope.method].parse(envelope.params ?? {}, "params");
  return { id: envelope.id, method: envelope.method, params } as Request;
}
