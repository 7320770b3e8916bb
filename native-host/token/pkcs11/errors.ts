/**
 * The single place where PKCS#11 return values become API.md error codes. Everything that calls into a token
 * catches with `mapPkcs11Error`; nothing else inspects CKR values or error strings.
 */
import { YztError, type ErrorCode } from "../../../protocol/errors.js";

export const CKR = {
  OK: 0x00,
  SLOT_ID_INVALID: 0x03,
  GENERAL_ERROR: 0x05,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  ENCRYPTED_DATA_LEN_RANGE: 0x41,
  FUNCTION_CANCELED: 0x50,
  FUNCTION_NOT_SUPPORTED: 0x54,
  KEY_FUNCTION_NOT_PERMITTED: 0x68,
  MECHANISM_INVALID: 0x70,
  OPERATION_ACTIVE: 0x90,
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_COUNT: 0xb1,
  SESSION_HANDLE_INVALID: 0xb3,
  SESSION_READ_ONLY: 0xb5,
  UNWRAPPING_KEY_TYPE_INCONSISTENT: 0xf2,
  TEMPLATE_INCOMPLETE: 0xd0,
  TEMPLATE_INCONSISTENT: 0xd1,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  USER_PIN_NOT_INITIALIZED: 0x102,
  WRAPPED_KEY_INVALID: 0x110,
  WRAPPED_KEY_LEN_RANGE: 0x112,
  NO_EVENT: 0x08,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
} as const;

const CODE_NAMES = new Map<number, string>(Object.entries(CKR).map(([name, value]) => [value, `CKR_${name}`]));

const MAPPING = new Map<number, { code: ErrorCode; message: string }>([
  [CKR.PIN_INCORRECT, { code: "PIN_INCORRECT", message: "the PIN is incorrect" }],
  [CKR.PIN_INVALID, { code: "PIN_INVALID", message: "the PIN contains characters the token does not accept" }],
  [CKR.PIN_LEN_RANGE, { code: "PIN_INVALID", message: "the PIN length is outside the token's range" }],
  [CKR.PIN_EXPIRED, { code: "PIN_INVALID", message: "the PIN has expired and must be changed" }],
  [CKR.PIN_LOCKED, { code: "PIN_LOCKED", message: "the PIN is locked after too many wrong tries" }],
  [CKR.DEVICE_REMOVED, { code: "TOKEN_REMOVED", message: "the token was removed" }],
  [CKR.ENCRYPTED_DATA_INVALID, { code: "BAD_REQUEST", message: "data: the ciphertext does not decrypt with this key" }],
  [CKR.ENCRYPTED_DATA_LEN_RANGE, { code: "BAD_REQUEST", message: "data: the ciphertext length does not fit this key" }],
  [CKR.WRAPPED_KEY_INVALID, { code: "BAD_REQUEST", message: "encryptedKeyPair: it does not open with this container's signing key, or its private key does not match its public key" }],
  [CKR.WRAPPED_KEY_LEN_RANGE, { code: "BAD_REQUEST", message: "encryptedKeyPair: its length is not that of an enveloped key pair" }],
  [CKR.UNWRAPPING_KEY_TYPE_INCONSISTENT, { code: "BAD_REQUEST", message: "encryptedKeyPair: the container's signing key cannot open it" }],
  [CKR.TOKEN_NOT_PRESENT, { code: "TOKEN_REMOVED", message: "the token is not present" }],
  [CKR.SESSION_CLOSED, { code: "TOKEN_REMOVED", message: "the token session was closed" }],
  [CKR.SESSION_HANDLE_INVALID, { code: "TOKEN_REMOVED", message: "the token session is no longer valid" }],
  [CKR.SLOT_ID_INVALID, { code: "NO_TOKEN", message: "the token's slot no longer exists" }],
  [CKR.TOKEN_NOT_RECOGNIZED, { code: "NO_TOKEN", message: "the token is not recognised" }],
  [CKR.USER_NOT_LOGGED_IN, { code: "LOGIN_REQUIRED", message: "the token requires a PIN login" }],
  [CKR.FUNCTION_CANCELED, { code: "USER_CANCELLED", message: "the operation was cancelled on the device" }],
  [CKR.OPERATION_ACTIVE, { code: "BUSY", message: "the token is busy with another operation" }],
  [CKR.SESSION_COUNT, { code: "BUSY", message: "the token has no free sessions" }],
]);

export function ckrName(code: number): string {
  return CODE_NAMES.get(code) ?? `CKR_0x${code.toString(16).padStart(8, "0")}`;
}

/** The CKR value carried by an error thrown from pkcs11js/graphene, or null for other errors. */
export function pkcs11CodeOf(error: unknown): number | null {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return null;
}

export function mapPkcs11Error(error: unknown): YztError {
  if (error instanceof YztError) return error;
  const ckr = pkcs11CodeOf(error);
  if (ckr === null) return YztError.from(error, "INTERNAL");
  const mapped = MAPPING.get(ckr);
  if (mapped) return new YztError(mapped.code, mapped.message, { ckr: ckrName(ckr) });
  return new YztError("INTERNAL", `token error ${ckrName(ckr)}`, { ckr: ckrName(ckr) });
}

export function isCkr(error: unknown, ckr: number): boolean {
  return pkcs11CodeOf(error) === ckr;
}

/** Runs a synchronous PKCS#11 call, mapping its failure once. */
export function guard<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw mapPkcs11Error(error);
  }
}
