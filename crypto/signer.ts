/**
 * Turns "sign this on the token" into every output format of API.md (raw, CMS detached and attached,
 * LoginToken). The token primitives are injected, so this module is pure and testable with a software key;
 * what differs per key algorithm comes from the table in algorithms.ts.
 */
import { badRequest } from "../protocol/errors.js";
import { attachContent, type CmsProfile } from "../protocol/cms-attach.js";
import { loginMessage, LOGIN_TOKEN_FORMAT } from "../protocol/login-token.js";
import type { LoginToken, SignResult } from "../protocol/types.js";
import { SM2_DEFAULT_ID, signatureAlgorithm, type SigningKey } from "./algorithms.js";

export type { SigningKey, TokenPrimitive } from "./algorithms.js";

export interface SignInput {
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  /** Exactly one of data / digest (the protocol schema enforces it). */
  data?: Uint8Array;
  digest?: Uint8Array;
  /** When given, must be the key's hash (SHA-256 for RSA and EC, SM3 for SM2). */
  hashAlgorithm?: "SHA-256" | "SM3";
  sm2Id?: string;
  cmsProfile?: CmsProfile;
  signingTime: Date;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export async function signForPage(key: SigningKey, input: SignInput): Promise<SignResult> {
  const algorithm = signatureAlgorithm(key.keyAlgorithm);
  if (input.hashAlgorithm !== undefined && input.hashAlgorithm !== algorithm.hashName) {
    throw badRequest(`hashAlgorithm: ${key.keyAlgorithm} keys sign with ${algorithm.hashName}, not ${input.hashAlgorithm}`);
  }
  const sm2Id = input.sm2Id ?? SM2_DEFAULT_ID;
  let signature: Uint8Array;
  if (input.format === "raw") {
    const raw = input.digest ? await algorithm.signDigest(key, input.digest) : await algorithm.signMessage(key, input.data ?? new Uint8Array(), sm2Id);
    signature = algorithm.toRawFormat(raw);
  } else {
    const { buildSignedData } = await import("./cms.js");
    signature = await buildSignedData({
      certificate: key.certificate,
      contentDigest: input.digest ?? algorithm.hash(input.data ?? new Uint8Array()),
      signingTime: input.signingTime,
      algorithm: algorithm.cms,
      ...(input.cmsProfile ? { profile: input.cmsProfile } : {}),
      signAttributes: async (attributes) => algorithm.toDer(await algorithm.signMessage(key, attributes, sm2Id)),
    });
    if (input.format === "pkcs7-attached") signature = attachContent(signature, input.data ?? new Uint8Array());
  }
  return { signature: base64(signature), certificate: base64(key.certificate), algorithm: algorithm.signatureName };
}

/** The origin-bound LoginToken over loginMessage(): RS256, ES256 or SM2SM3 (API.md). */
export async function signLoginToken(key: SigningKey, origin: string, challenge: string): Promise<LoginToken> {
  const algorithm = signatureAlgorithm(key.keyAlgorithm);
  const raw = await algorithm.signMessage(key, loginMessage(origin, challenge), SM2_DEFAULT_ID);
  return {
    format: LOGIN_TOKEN_FORMAT,
    certificate: base64(key.certificate),
    algorithm: algorithm.loginAlgorithm,
    origin,
    challenge,
    signature: base64(raw),
  };
}
