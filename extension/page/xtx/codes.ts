/**
 * Numbers and failure values of BJCA's XTXApp service, as its client libraries expect them: GM/T 0006
 * algorithm identifiers (SOF_Set/GetSignMethod, SOF_Set/GetEncryptMethod, SOF_HashData), SOF error codes
 * for SOF_GetLastError, and what each kind of function answers when it fails.
 */

/** Signature methods. BJCA's own constant tables number SM3-with-SM2 0x00020101, GM/T 0006 0x00020201. */
export const SGD_SM3_SM2 = 0x00020201;
export const SGD_SM3_SM2_BJCA = 0x00020101;
export const SGD_SHA256_RSA = 0x00010004;
export const SGD_SM3_RSA = 0x00010001;
export const SIGN_METHODS = [SGD_SM3_SM2, SGD_SM3_SM2_BJCA, SGD_SHA256_RSA, SGD_SM3_RSA];

/** Envelope content ciphers the host builds; SM1/SSF33 exist only inside vendor hardware. */
export const SGD_SM4_CBC = 0x00000402;
export const SGD_3DES_CBC = 0x00002002;
export const ENCRYPT_METHODS: Record<number, "SM4-CBC" | "3DES-CBC"> = { [SGD_SM4_CBC]: "SM4-CBC", [SGD_3DES_CBC]: "3DES-CBC" };

/** Hash identifiers of SOF_HashData / SOF_SignHashData. */
export const SGD_SM3 = 1;
export const SGD_SHA1 = 2;
export const SGD_SHA256 = 4;

/**
 * The version SOF_GetVersion reports. Libraries compare it as a string ("xtx_version >= '2.14'", "'2.16'",
 * "'3.0'") and pages check a minimum, so it is dotted and numeric and sorts above all of those and above
 * the 3.4.1 that xtxasyn.js is written for.
 */
export const XTX_COMPAT_VERSION = "3.7.1.0";

/** SOF error codes (GM/T 0020 style). */
export const SOF_OK = 0;
export const SOF_UNKNOWN_ERROR = 0x0b000001;
export const SOF_NOT_SUPPORTED = 0x0b000004;
export const SOF_BAD_PARAMETER = 0x0b000002;
export const SOF_NO_DEVICE = 0x0b000101;
export const SOF_NO_CERTIFICATE = 0x0b000110;
export const SOF_PIN_INCORRECT = 0x0b000202;
export const SOF_PIN_LOCKED = 0x0b000203;
export const SOF_NOT_LOGGED_IN = 0x0b000204;
export const SOF_USER_CANCELLED = 0x0b000301;
export const SOF_CERT_EXPIRED = 0x0b000411;
export const SOF_VERIFY_FAILED = 0x0b000500;

/** yzt error code → SOF error code. */
export const SOF_CODES: Record<string, number> = {
  PIN_INCORRECT: SOF_PIN_INCORRECT,
  PIN_LOCKED: SOF_PIN_LOCKED,
  PIN_INVALID: SOF_PIN_INCORRECT,
  NO_TOKEN: SOF_NO_DEVICE,
  TOKEN_REMOVED: SOF_NO_DEVICE,
  NO_CERTIFICATE: SOF_NO_CERTIFICATE,
  USER_CANCELLED: SOF_USER_CANCELLED,
  CERT_EXPIRED: SOF_CERT_EXPIRED,
  CERT_NOT_YET_VALID: SOF_CERT_EXPIRED,
  BAD_REQUEST: SOF_BAD_PARAMETER,
  UNSUPPORTED_ALGORITHM: SOF_NOT_SUPPORTED,
  NOT_ALLOWED: SOF_NOT_LOGGED_IN,
  LOGIN_REQUIRED: SOF_NOT_LOGGED_IN,
};

/** What users read from SOF_GetLastErrMsg (pages show it as is): Chinese first, the English after it. */
export const SOF_MESSAGES: Record<string, string> = {
  PIN_INCORRECT: "证书口令错误 (wrong PIN)",
  PIN_LOCKED: "证书口令已锁定，请到一证通服务网点或一证通服务平台解锁 (the PIN is locked)",
  PIN_INVALID: "证书口令长度或字符不符合要求 (the PIN must be 4–16 characters)",
  NO_TOKEN: "未检测到证书，请插入证书 (insert the USB key)",
  TOKEN_REMOVED: "证书已拔出，请重新插入证书 (the USB key was removed)",
  NO_CERTIFICATE: "未找到证书 (no such certificate)",
  USER_CANCELLED: "用户已取消 (cancelled by the user)",
  CERT_EXPIRED: "证书已过期或尚未生效 (the certificate is not within its validity period)",
  CERT_NOT_YET_VALID: "证书尚未生效 (the certificate is not valid yet)",
  BAD_REQUEST: "参数错误 (invalid argument)",
  UNSUPPORTED_ALGORITHM: "证书介质不支持此算法 (the key does not support this algorithm)",
  NOT_ALLOWED: "操作未被允许 (not allowed)",
  TIMEOUT: "操作超时 (timed out)",
  BUSY: "证书正忙，请稍后重试 (the key is busy)",
  HOST_MISSING: "未安装证书应用环境 yzt-bridge 本地组件 (the yzt-bridge host is not installed)",
};

export type ReturnKind = "string" | "bool" | "number";

/** What BJCA's libraries substitute when a call fails; the service answers the same. */
export const FAILURE_VALUE: Record<ReturnKind, string | boolean | number> = { string: "", bool: false, number: -1 };
