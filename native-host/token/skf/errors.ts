/**
 * The single place where SKF (GM/T 0016) return values become API.md error codes. Every call through the
 * binding checks its ULONG result with `check`; nothing else in the adapter inspects SAR values.
 */
import { YztError, type ErrorCode } from "../../../protocol/errors.js";

export const SAR = {
  OK: 0x00000000,
  FAIL: 0x0a000001,
  UNKNOWNERR: 0x0a000002,
  NOTSUPPORTYETERR: 0x0a000003,
  FILEERR: 0x0a000004,
  INVALIDHANDLEERR: 0x0a000005,
  INVALIDPARAMERR: 0x0a000006,
  NAMELENERR: 0x0a000009,
  KEYUSAGEERR: 0x0a00000a,
  NOTINITIALIZEERR: 0x0a00000c,
  OBJERR: 0x0a00000d,
  MEMORYERR: 0x0a00000e,
  TIMEOUTERR: 0x0a00000f,
  INDATALENERR: 0x0a000010,
  INDATAERR: 0x0a000011,
  RSADECERR: 0x0a000019,
  KEYNOTFOUNTERR: 0x0a00001b,
  CERTNOTFOUNTERR: 0x0a00001c,
  DECRYPTPADERR: 0x0a00001e,
  BUFFER_TOO_SMALL: 0x0a000020,
  NOT_EVENTERR: 0x0a000022,
  DEVICE_REMOVED: 0x0a000023,
  PIN_INCORRECT: 0x0a000024,
  PIN_LOCKED: 0x0a000025,
  PIN_INVALID: 0x0a000026,
  PIN_LEN_RANGE: 0x0a000027,
  USER_ALREADY_LOGGED_IN: 0x0a000028,
  USER_PIN_NOT_INITIALIZED: 0x0a000029,
  USER_TYPE_INVALID: 0x0a00002a,
  APPLICATION_NOT_EXISTS: 0x0a00002e,
  USER_NOT_LOGGED_IN: 0x0a00002d,
  FILE_NOT_EXIST: 0x0a000031,
} as const;

const CODE_NAMES = new Map<number, string>(Object.entries(SAR).map(([name, value]) => [value, `SAR_${name}`]));

const MAPPING = new Map<number, { code: ErrorCode; message: string }>([
  [SAR.PIN_INCORRECT, { code: "PIN_INCORRECT", message: "the PIN is incorrect" }],
  [SAR.PIN_LOCKED, { code: "PIN_LOCKED", message: "the PIN is locked after too many wrong tries" }],
  [SAR.PIN_INVALID, { code: "PIN_INVALID", message: "the PIN contains characters the key does not accept" }],
  [SAR.PIN_LEN_RANGE, { code: "PIN_INVALID", message: "the PIN length is outside the key's range" }],
  [SAR.DEVICE_REMOVED, { code: "TOKEN_REMOVED", message: "the key was removed" }],
  // A handle of a key that was pulled out (and perhaps put back) is dead: the key is gone for this session.
  [SAR.INVALIDHANDLEERR, { code: "TOKEN_REMOVED", message: "the key's handle is no longer valid" }],
  [SAR.USER_NOT_LOGGED_IN, { code: "LOGIN_REQUIRED", message: "the key requires a PIN login" }],
  [SAR.USER_PIN_NOT_INITIALIZED, { code: "PIN_LOCKED", message: "the key has no user PIN set: it must be initialised at the issuer" }],
  [SAR.CERTNOTFOUNTERR, { code: "NO_CERTIFICATE", message: "the container holds no such certificate" }],
  [SAR.KEYNOTFOUNTERR, { code: "NO_CERTIFICATE", message: "the container holds no such key" }],
  [SAR.FILE_NOT_EXIST, { code: "NO_CERTIFICATE", message: "the container holds no such certificate" }],
  [SAR.INDATAERR, { code: "BAD_REQUEST", message: "data: the key refused the input" }],
  [SAR.INDATALENERR, { code: "BAD_REQUEST", message: "data: the input length does not fit this key" }],
  [SAR.RSADECERR, { code: "BAD_REQUEST", message: "data: the ciphertext does not decrypt with this key" }],
  [SAR.DECRYPTPADERR, { code: "BAD_REQUEST", message: "data: the content does not decrypt (damaged, or for another key)" }],
  [SAR.NOTSUPPORTYETERR, { code: "UNSUPPORTED_ALGORITHM", message: "the SKF library does not support this operation" }],
  [SAR.TIMEOUTERR, { code: "TIMEOUT", message: "the key did not answer in time" }],
]);

export function sarName(code: number): string {
  return CODE_NAMES.get(code) ?? `SAR_0x${code.toString(16).padStart(8, "0")}`;
}

/** A failed SKF call as a YztError; `call` names the function (it shows in logs and `data.sar`). */
export function skfError(code: number, call: string): YztError {
  const mapped = MAPPING.get(code);
  const data = { sar: sarName(code), call };
  if (mapped) return new YztError(mapped.code, mapped.message, data);
  return new YztError("INTERNAL", `${call} failed with ${sarName(code)}`, data);
}

/** Throws the mapped error unless the call returned SAR_OK. */
export function check(code: number, call: string): void {
  if (code !== SAR.OK) throw skfError(code >>> 0, call);
}
