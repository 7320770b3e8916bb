/**
 * Turns "sign this on the token" into every output format of API.md (raw, CMS detached and attached,
 * LoginToken). The token primitive is injected, so this module is pure and testable with a software key;
 * what differs per key algorithm comes from the table in algorithms.ts.
 */
import { attachContent } from "../../protocol/cms-attach.js";
import { loginMessage, LOGIN_TOKEN_FORMAT } from "../../protocol/login-token.js";
import type { LoginToken, SignResult } from "../../protocol/types.js";
import { signatureAlgorithm, type SigningKey } from "./algorithms.js";

export type { SigningKey, TokenPrimitive } from "./algorithms.js";

export interface SignInput {
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  /** Exactly one of data / digest (the protocol schema enforces it). */
  data?: Uint8Array;
  digest?: Uint8Array;
  signingTime: Date;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export async function signForPage(key: SigningKey, input: SignInput): Promise<SignResult> {
  const algorithm = signatureAlgorithm(key.keyAlgorithm);
  const signHashAsDer = async (hash: Uint8Array) => algorithm.toDer(await key.primitive(algorithm.tokenInput(hash)));
  const hash = input.digest ?? algorithm.hash(input.data ?? new Uint8Array());
  let signature: Uint8Array;
  if (input.format === "raw") {
    signature = await signHashAsDer(hash);
  } else {
    const { buildSignedData } = await import("./cms.js");
    signature = await buildSignedData({
      certificate: key.certificate,
      contentDigest: hash,
      signingTime: input.signingTime,
      keyAlgorithm: key.keyAlgorithm,
      signHash: signHashAsDer,
    });
    if (input.format === "pkcs7-attached") signature = attachContent(signature, input.data ?? new Uint8Array());
  }
  return { signature: base64(signature), certificate: base64(key.certificate), algorithm: algorithm.signatureName };
}

/** The origin-bound LoginToken over loginMessage(): RS256 (PKCS#1 v1.5) or ES256 (raw r||s). */
export async function signLoginToken(key: SigningKey, origin: string, challenge: string): Promise<LoginToken> {
  const algorithm = signatureAlgorithm(key.keyAlgorithm);
  const hash = algorithm.hash(loginMessage(origin, challenge));
  const signature = await key.primitive(algorithm.tokenInput(hash));
  return {
    format: LOGIN_TOKEN_FORMAT,
    certificate: base64(key.certificate),
    algorithm: algorithm.loginAlgorithm,
    origin,
    challenge,
    signature: base64(signature),
  };
}
