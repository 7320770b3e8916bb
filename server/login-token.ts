/**
 * verifyLoginToken: checks a LoginToken from `yzt.login` (API.md) completely — format, origin, the
 * signature over SHA-256(origin) || SHA-256(challenge) with the algorithm named, the certificate's dates,
 * the chain to the site's trusted roots — and, given a challenge store, that its challenge is used once.
 *
 * Order matters: the challenge is consumed last, once everything else has passed, so a forged or
 * untrusted token cannot burn a user's challenge; and a store that cannot answer fails the login
 * (reason "challengeStore"), never lets it through.
 */
import { createPublicKey, verify as verifySignature, X509Certificate } from "node:crypto";
import { LOGIN_TOKEN_FORMAT, loginMessage } from "../protocol/login-token.js";
import { parseCertificate, type ParsedCertificate } from "../crypto/certificate.js";
import { VerificationError } from "../crypto/cms-open.js";
import { sm2Digest, sm2Verify } from "../crypto/sm2.js";
import { ChallengeStoreError, type ChallengeStore } from "./challenges/challenge-store.js";
import { untrustedReason, type TrustedRoots } from "./trusted-roots.js";

export type LoginTokenFailure =
  | "format" | "origin" | "challenge" | "signature" | "algorithm" | "expired" | "notYetValid" | "untrusted" | "challengeStore";

export class LoginTokenError extends VerificationError<LoginTokenFailure> {
  override readonly name = "LoginTokenError";
}

interface CommonOptions {
  /** This site's own origin, e.g. "https://etax.beijing.chinatax.gov.cn". */
  origin: string;
  /** Trusted CA certificates (PEM text, PEM bundle or DER). Intermediates may be given here too. */
  trustedRoots: TrustedRoots;
  now?: Date;
}

/** The store keeps challenges single use: the token's challenge is consumed once all else has passed. */
export interface WithChallengeStore {
  challengeStore: ChallengeStore;
  /** The binding the challenge was issued with (e.g. the site's session id), if any. */
  challengeBinding?: string;
  /** When given too, the token must answer exactly this challenge. */
  challenge?: string;
}

/** The site names the challenge it issued and keeps it single use itself. */
export interface WithIssuedChallenge {
  challenge: string;
  challengeStore?: undefined;
  challengeBinding?: undefined;
}

export type VerifyLoginOptions = CommonOptions & (WithChallengeStore | WithIssuedChallenge);

export interface VerifiedLogin {
  holderName: string;
  creditCode?: string;
  certificate: ParsedCertificate;
}

interface TokenFields {
  origin: string;
  challenge: string;
  algorithm: string;
  certificate: Buffer;
  signature: Buffer;
}

function readToken(input: unknown): TokenFields {
  if (typeof input !== "object" || input === null) throw new LoginTokenError("format", "login token must be an object");
  const token = input as Record<string, unknown>;
  if (token.format !== LOGIN_TOKEN_FORMAT) throw new LoginTokenError("format", `unsupported login token format ${String(token.format)}`);
  const field = (name: string): string => {
    const value = token[name];
    if (typeof value !== "string" || value.length === 0) throw new LoginTokenError("format", `login token field ${name} is missing`);
    return value;
  };
  return {
    origin: field("origin"),
    challenge: field("challenge"),
    algorithm: field("algorithm"),
    certificate: Buffer.from(field("certificate"), "base64"),
    signature: Buffer.from(field("signature"), "base64"),
  };
}

/** The certificate, once the token's signature is shown to be its key's, with the algorithm the token names. */
function signedCertificate(token: TokenFields): ParsedCertificate {
  let x509: X509Certificate;
  let parsed: ParsedCertificate;
  try {
    x509 = new X509Certificate(token.certificate);
    parsed = parseCertificate(token.certificate);
  } catch {
    throw new LoginTokenError("format", "token certificate is not a valid X.509 certificate");
  }
  const { algorithm, signature } = token;
  const message = loginMessage(token.origin, token.challenge);
  const key = createPublicKey(x509.publicKey.export({ format: "pem", type: "spki" }));
  let valid: boolean;
  if (algorithm === "RS256" && parsed.keyAlgorithm === "RSA") valid = verifySignature("sha256", message, key, signature);
  else if (algorithm === "ES256" && parsed.keyAlgorithm === "EC") valid = verifySignature("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  else if (algorithm === "SM2SM3" && parsed.keyAlgorithm === "SM2" && parsed.publicKeyPoint) {
    valid = signature.length === 64 && sm2Verify(parsed.publicKeyPoint, sm2Digest(parsed.publicKeyPoint, message), signature);
  } else throw new LoginTokenError("algorithm", `algorithm ${algorithm} does not match the certificate key`);
  if (!valid) throw new LoginTokenError("signature", "login token signature is invalid");
  return parsed;
}

async function consumeChallenge(store: ChallengeStore, challenge: string, binding: string | undefined): Promise<void> {
  let fresh: boolean;
  try {
    fresh = await store.consume(challenge, binding);
  } catch (error) {
    if (error instanceof ChallengeStoreError) throw new LoginTokenError("challengeStore", error.message, { cause: error });
    throw error;
  }
  if (!fresh) throw new LoginTokenError("challenge", "challenge unknown, already used, expired or issued to another session");
}

/** Every check but the challenge store's: format, origin, challenge (when named), signature, dates, chain. */
function checkToken(input: unknown, options: VerifyLoginOptions): { token: TokenFields; verified: VerifiedLogin } {
  if (!options.challengeStore && typeof options.challenge !== "string") {
    // Neither would accept any challenge at all: a replay hole, so a programming error, not a verdict.
    throw new TypeError("verifyLoginToken needs challengeStore or the challenge the site issued");
  }
  const token = readToken(input);
  if (token.origin !== options.origin) throw new LoginTokenError("origin", `token was made for ${token.origin}, not ${options.origin}`);
  if (options.challenge !== undefined && token.challenge !== options.challenge) throw new LoginTokenError("challenge", "token answers a different challenge");
  const parsed = signedCertificate(token);

  const now = options.now ?? new Date();
  if (now < parsed.notBefore) throw new LoginTokenError("notYetValid", "certificate is not valid yet");
  if (now > parsed.notAfter) throw new LoginTokenError("expired", "certificate has expired");
  const untrusted = untrustedReason(token.certificate, options.trustedRoots, now);
  if (untrusted) throw new LoginTokenError("untrusted", untrusted);
  return { token, verified: { holderName: parsed.holderName, ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}), certificate: parsed } };
}

/**
 * Checks a LoginToken completely. With the challenge the site issued (and keeps single use itself) it answers
 * at once, as it always has: who logged in, or a thrown LoginTokenError (`.reason` says which check failed).
 * With a challenge store it resolves once the store has consumed the token's challenge — last, after every
 * other check, so a forged token never burns a user's challenge — and rejects with LoginTokenError.
 */
export function verifyLoginToken(input: unknown, options: CommonOptions & WithIssuedChallenge): VerifiedLogin;
export function verifyLoginToken(input: unknown, options: CommonOptions & WithChallengeStore): Promise<VerifiedLogin>;
export function verifyLoginToken(input: unknown, options: VerifyLoginOptions): VerifiedLogin | Promise<VerifiedLogin>;
export function verifyLoginToken(input: unknown, options: VerifyLoginOptions): VerifiedLogin | Promise<VerifiedLogin> {
  const store = options.challengeStore;
  if (!store) return checkToken(input, options).verified;
  let checked: ReturnType<typeof checkToken>;
  try {
    checked = checkToken(input, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return consumeChallenge(store, checked.token.challenge, options.challengeBinding).then(() => checked.verified);
}
