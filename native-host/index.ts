/**
 * Library entry of the `yzt-bridge` package for tax-hall servers: verify what `window.yzt` produced.
 *   import { verifyLoginToken, verifyCmsSignature } from "yzt-bridge";
 */
export { verifyLoginToken, verifyCmsSignature, LoginTokenError, CmsVerificationError } from "./verify.js";
export type { VerifyLoginOptions, VerifiedLogin, VerifiedCms, LoginTokenFailure, CmsFailure } from "./verify.js";
export { loginMessage, LOGIN_TOKEN_FORMAT } from "./login-message.js";
export type { LoginToken, YztCertificate, TokenInfo, SignResult } from "./protocol.js";
export { YztError, ERROR_CODES, type ErrorCode } from "./errors.js";
