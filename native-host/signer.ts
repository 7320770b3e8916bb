/**
 * Turns "sign this hash on the token" into every output format of API.md. The token primitive is injected,
 * so this module is pure and testable with a software key:
 * - RSA: the primitive gets a DER DigestInfo and returns the PKCS#1 v1.5 signature (CKM_RSA_PKCS).
 * - EC:  the primitive gets the bare hash and returns r||s (CKM_ECDSA).
 */
import { badRequest } from "./errors.js";
import { loginMessage, LOGIN_TOKEN_FORMAT } from "./login-message.js";
import type { KeyAlgorithm, LoginToken, SignResult } from "./protocol.js";
import { ecdsaRawToDer, rsaSha256DigestInfo, sha256 } from "./signature-encoding.js";

export type TokenPrimitive = (input: Uint8Array) => Promise<Uint8Array>;

export interface SigningKey {
  keyAlgorithm: KeyAlgorithm;
  certificate: Uint8Array;
  primitive: TokenPrimitive;
}

const SIGNATURE_ALGORITHM_NAMES = { RSA: "sha256WithRSAEncryption", EC: "ecdsa-with-SHA256" } as const;

function signingFamily(key: SigningKey): "RSA" | "EC" {
  if (key.keyAlgorithm === "SM2") throw badRequest("SM2 keys are not supported yet: the token needs an SM2/SM3 mechanism");
  return key.keyAlgorithm;
}

/** One hash → the signature value a verifier expects: PKCS#1 v1.5 for RSA, DER ECDSA-Sig-Value for EC. */
async function signHashAsDer(key: SigningKey, hash: Uint8Array): Promise<Uint8Array> {
  if (signingFamily(key) === "RSA") return key.primitive(rsaSha256DigestInfo(hash));
  return ecdsaRawToDer(await key.primitive(hash));
}

export interface SignInput {
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  /** Exactly one of data / digest (the protocol schema enforces it). */
  data?: Uint8Array;
  digest?: Uint8Array;
  signingTime: Date;
}

export async function signForPage(key: SigningKey, input: SignInput): Promise<SignResult> {
  const family = signingFamily(key);
  const hash = input.digest ?? sha256(input.data ?? new Uint8Array());
  let signature: Uint8Array;
  if (input.format === "raw") {
    signature = await signHashAsDer(key, hash);
  } else {
    const { buildSignedData } = await import("./cms.js");
    signature = await buildSignedData({
      certificate: key.certificate,
      contentDigest: hash,
      attached: input.format === "pkcs7-attached",
      signingTime: input.signingTime,
      keyAlgorithm: family,
      signHash: (attributesHash) => signHashAsDer(key, attributesHash),
      ...(input.data ? { content: input.data } : {}),
    });
  }
  return {
    signature: Buffer.from(signature).toString("base64"),
    certificate: Buffer.from(key.certificate).toString("base64"),
    algorithm: SIGNATURE_ALGORITHM_NAMES[family],
  };
}

/** The origin-bound LoginToken: RS256 (PKCS#1 v1.5) or ES256 (raw r||s) over loginMessage(). */
export async function signLoginToken(key: SigningKey, origin: string, challenge: string): Promise<LoginToken> {
  const family = signingFamily(key);
  const hash = sha256(loginMessage(origin, challenge));
  const signature = family === "RSA" ? await key.primitive(rsaSha256DigestInfo(hash)) : await key.primitive(hash);
  return {
    format: LOGIN_TOKEN_FORMAT,
    certificate: Buffer.from(key.certificate).toString("base64"),
    algorithm: family === "RSA" ? "RS256" : "ES256",
    origin,
    challenge,
    signature: Buffer.from(signature).toString("base64"),
  };
}
