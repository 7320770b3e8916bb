/**
 * The one error type shared by the native host and the extension.
 * Every failure that crosses a boundary (page ↔ extension ↔ host) is a YztError with a code from API.md;
 * PKCS#11 return values are mapped to these codes once, in pkcs11-errors.ts, and nowhere else.
 */

export const ERROR_CODES = [
  "HOST_MISSING",
  "HOST_ERROR",
  "NOT_ALLOWED",
  "NO_TOKEN",
  "NO_CERTIFICATE",
  "USER_CANCELLED",
  "PIN_INCORRECT",
  "PIN_LOCKED",
  "PIN_INVALID",
  "TOKEN_REMOVED",
  "CERT_EXPIRED",
  "CERT_NOT_YET_VALID",
  "BAD_REQUEST",
  "TIMEOUT",
  "BUSY",
  "INTERNAL",
  // The key's PKCS#11 module offers no usable mechanism for its algorithm; the message names the module and
  // the config field (sm2Mechanisms) that can teach the host one.
  "UNSUPPORTED_ALGORITHM",
  // Addition to API.md: the host needs a PIN before this origin may use the token. The extension answers it
  // by showing its PIN prompt, so pages normally never see it.
  "LOGIN_REQUIRED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  data?: Record<string, unknown>;
}

export class YztError extends Error {
  override readonly name = "YztError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }

  toJSON(): ErrorBody {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }

  static isCode(value: unknown): value is ErrorCode {
    return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
  }

  /** Rebuilds an error that travelled as JSON; anything malformed becomes HOST_ERROR. */
  static fromBody(body: unknown): YztError {
    if (typeof body === "object" && body !== null) {
      const { code, message, data } = body as Record<string, unknown>;
      if (YztError.isCode(code) && typeof message === "string") {
        const extra = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : undefined;
        return new YztError(code, message, extra);
      }
    }
    return new YztError("HOST_ERROR", "malformed error from the native host");
  }

  /** Wraps anything thrown into a YztError without losing an existing code. */
  static from(error: unknown, fallback: ErrorCode = "INTERNAL"): YztError {
    if (error instanceof YztError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new YztError(fallback, message);
  }
}

export function badRequest(message: string): YztError {
  return new YztError("BAD_REQUEST", message);
}
