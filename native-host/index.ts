/**
 * Library entry of the `yzt-bridge` package for tax-hall servers: verify what `window.yzt` produced.
 *   import { verifyLoginToken, verifyCmsSignature } from "yzt-bridge";
 */
export { verifyLoginToken, verifyCmsSignature, LoginTokenError, CmsVerificationError } from "./crypto/verify.js";
export type { VerifyLoginOptions, VerifiedLogin, VerifiedCms, LoginTokenFailure, CmsFailure } from "./crypto/verify.js";
export { loginMessage, LOGIN_TOKEN_FORMAT } from "../protocol/login-token.js";
export type { LoginToken, YztCertificate, TokenInfo, SignResult } from "../protocol/types.js";
export { YztError, ERROR_CODES, type ErrorCode } from "../protocol/errors.js";
