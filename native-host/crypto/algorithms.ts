/**
 * The signature algorithms the host signs with, one table entry per key algorithm: which hash, what the
 * token's mechanism is fed, how its output becomes the DER value that CMS and X.509 verifiers expect, and the
 * names used in results and LoginTokens. A new key algorithm is one new entry here (plus its mechanism in
 * token/mechanisms.ts), not edits across the signing code.
 *
 * Layer crypto/ (certificates, CMS, signature encodings and algorithms, verifiers, chains): pure byte
 * work with no PKCS#11 in it. It may import only support/ and the protocol contract.
 */
import { badRequest } from "../../protocol/errors.js";
import type { KeyAlgorithm, LoginToken } from "../../protocol/types.js";
import { ecdsaRawToDer, rsaSha256DigestInfo, sha256 } from "./signature-encoding.js";

/** The token signs what it is given with the key's mechanism and returns the mechanism's raw output. */
export type TokenPrimitive = (input: Uint8Array) => Promise<Uint8Array>;

export interface SigningKey {
  keyAlgorithm: KeyAlgorithm;
  certificate: Uint8Array;
  primitive: TokenPrimitive;
}

export interface SignatureAlgorithm {
  hashName: "SHA-256";
  /** The same hash by its node:crypto name, for streaming large files. */
  nodeHashName: "sha256";
  hash(message: Uint8Array): Uint8Array;
  /** What the token's mechanism is fed for a precomputed hash (RSA: DigestInfo, EC: the hash itself). */
  tokenInput(hash: Uint8Array): Uint8Array;
  /** The mechanism's output → the DER signature value of CMS and X.509. */
  toDer(raw: Uint8Array): Uint8Array;
  /** Name reported in SignResult.algorithm. */
  signatureName: string;
  loginAlgorithm: LoginToken["algorithm"];
}

const ALGORITHMS: Partial<Record<KeyAlgorithm, SignatureAlgorithm>> = {
  RSA: {
    hashName: "SHA-256",
    nodeHashName: "sha256",
    hash: sha256,
    tokenInput: rsaSha256DigestInfo,
    toDer: (raw) => raw,
    signatureName: "sha256WithRSAEncryption",
    loginAlgorithm: "RS256",
  },
  EC: {
    hashName: "SHA-256",
    nodeHashName: "sha256",
    hash: sha256,
    tokenInput: (hash) => hash,
    toDer: ecdsaRawToDer,
    signatureName: "ecdsa-with-SHA256",
    loginAlgorithm: "ES256",
  },
};

export function signatureAlgorithm(keyAlgorithm: KeyAlgorithm): SignatureAlgorithm {
  const algorithm = ALGORITHMS[keyAlgorithm];
  if (!algorithm) throw badRequest(`${keyAlgorithm} keys are not supported yet: the token needs an ${keyAlgorithm} mechanism`);
  return algorithm;
}
