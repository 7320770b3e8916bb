/**
 * The server kit: the `yzt-bridge` package's main export, for tax-hall sites. It owns what a site runs
 * on its own servers — the LoginToken and CMS verifiers, the trust check against the site's roots, and
 * single-use challenges in memory (one node) or in Redis (many nodes).
 *   import { verifyLoginToken, redisChallengeStore } from "yzt-bridge";
 *
 * Layering: server/ imports protocol/ (the contract) and the shared crypto code (crypto/: certificates,
 * chains, SM2, CMS), nothing else of ours; nothing imports server/ but sites, the demo tax
 * hall, scripts and tests. The extension never does: it runs in browsers, this runs on a site's servers.
 */
export { verifyLoginToken, LoginTokenError } from "./login-token.js";
export type { VerifyLoginOptions, VerifiedLogin, LoginTokenFailure, WithChallengeStore, WithIssuedChallenge } from "./login-token.js";
export { verifyCmsSignature, type VerifyCmsOptions } from "./cms-signature.js";
export { CmsVerificationError, type CmsFailure, type VerifiedCms } from "../crypto/cms-open.js";
export type { TrustedRoots } from "./trusted-roots.js";
export { ChallengeStoreError, type ChallengeStore } from "./challenges/challenge-store.js";
export { memoryChallengeStore, type MemoryChallengeStoreOptions } from "./challenges/memory-store.js";
export { redisChallengeStore, type RedisChallengeStoreOptions } from "./challenges/redis-store.js";
export { loginMessage, LOGIN_TOKEN_FORMAT } from "../protocol/login-token.js";
export type { LoginToken, YztCertificate, TokenInfo, SignResult } from "../protocol/types.js";
export { YztError, ERROR_CODES, type ErrorCode } from "../protocol/errors.js";
export type { ParsedCertificate } from "../crypto/certificate.js";
