/**
 * The signature algorithms the host signs with, one table entry per key algorithm: the hash, how a message
 * or a precomputed digest reaches the token's mechanism, how the mechanism's output becomes the DER value
 * CMS and X.509 verifiers expect or the "raw" value of API.md, the CMS algorithm identifiers, and the names
 * used in results and LoginTokens. A new key algorithm is one new entry here (plus its mechanism in
 * token/mechanisms.ts), not edits across the signing code.
 *
 * Layer crypto/ (certificates, CMS, signature encodings and algorithms, verifiers, chains): pure byte
 * work with no PKCS#11 in it. It may import only support/ and the protocol contract.
 */
import { createHash } from "node:crypto";
import { badRequest, YztError } from "../protocol/errors.js";
import type { KeyAlgorithm, LoginToken } from "../protocol/types.js";
import { ecdsaRawToDer, rsaSha256DigestInfo, sha256 } from "./signature-encoding.js";
import { rsToDer, SM2_DEFAULT_ID, sm2Digest } from "./sm2-digest.js";

/** The token signs what it is given with the key's mechanism and returns the mechanism's raw output. */
export type TokenPrimitive = (input: Uint8Array) => Promise<Uint8Array>;

export interface SigningKey {
  keyAlgorithm: KeyAlgorithm;
  certificate: Uint8Array;
  /** The mechanism for precomputed values: RSA gets a DigestInfo, EC a hash, SM2 e = SM3(Z‖M) (→ r‖s). */
  primitive?: TokenPrimitive;
  /** SM2 where the module hashes inside: message and signer ID in, r‖s out. Preferred when present. */
  messagePrimitive?: (message: Uint8Array, id: string) => Promise<Uint8Array>;
  /** EC and SM2: the public point from the certificate (SM2 needs it for Z). */
  publicKeyPoint?: Uint8Array;
}

export interface CmsAlgorithmIds {
  digest: string;
  signature: string;
  /** SHA-256 and RSA AlgorithmIdentifiers carry an explicit NULL; ECDSA and the SM ones have none. */
  digestNull: boolean;
  signatureNull: boolean;
}

export interface SignatureAlgorithm {
  hashName: "SHA-256" | "SM3";
  /** The same hash by its node:crypto name, for streaming large files. */
  nodeHashName: "sha256" | "sm3";
  hash(message: Uint8Array): Uint8Array;
  /** Signs a message (the hash, and for SM2 the Z value, are computed on the way); mechanism output. */
  signMessage(key: SigningKey, message: Uint8Array, sm2Id: string): Promise<Uint8Array>;
  /** Signs a digest the caller computed (SM2: e itself); mechanism output. */
  signDigest(key: SigningKey, digest: Uint8Array): Promise<Uint8Array>;
  /** Mechanism output → the DER signature value of CMS and X.509. */
  toDer(raw: Uint8Array): Uint8Array;
  /** Mechanism output → `format: "raw"` of API.md (RSA PKCS#1, EC DER, SM2 r‖s). */
  toRawFormat(raw: Uint8Array): Uint8Array;
  cms: CmsAlgorithmIds;
  /** Name reported in SignResult.algorithm. */
  signatureName: string;
  /** The LoginToken algorithm; its signature is the mechanism output as is (PKCS#1, or r‖s for ES256 and SM2SM3). */
  loginAlgorithm: LoginToken["algorithm"];
}

function requirePrimitive(key: SigningKey): TokenPrimitive {
  if (!key.primitive) throw new YztError("UNSUPPORTED_ALGORITHM", `the token offers no mechanism that signs a precomputed ${key.keyAlgorithm} digest`);
  return key.primitive;
}

function sm3(message: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sm3").update(message).digest());
}

const identity = (raw: Uint8Array) => raw;

/** RSA and EC: the token signs a SHA-256 hash (RSA wrapped in a DigestInfo). */
function sha256Family(tokenInput: (hash: Uint8Array) => Uint8Array): Pick<SignatureAlgorithm, "hashName" | "nodeHashName" | "hash" | "signMessage" | "signDigest"> {
  return {
    hashName: "SHA-256",
    nodeHashName: "sha256",
    hash: sha256,
    signMessage: (key, message) => requirePrimitive(key)(tokenInput(sha256(message))),
    signDigest: (key, digest) => {
      if (digest.length !== 32) throw badRequest(`digest must be 32 bytes for SHA-256, got ${digest.length}`);
      return requirePrimitive(key)(tokenInput(digest));
    },
  };
}

const ALGORITHMS: Record<KeyAlgorithm, SignatureAlgorithm> = {
  RSA: {
    ...sha256Family(rsaSha256DigestInfo),
    toDer: identity,
    toRawFormat: identity,
    cms: { digest: "2.16.840.1.101.3.4.2.1", signature: "1.2.840.113549.1.1.1", digestNull: true, signatureNull: true },
    signatureName: "sha256WithRSAEncryption",
    loginAlgorithm: "RS256",
  },
  EC: {
    ...sha256Family(identity),
    toDer: ecdsaRawToDer,
    toRawFormat: ecdsaRawToDer,
    cms: { digest: "2.16.840.1.101.3.4.2.1", signature: "1.2.840.10045.4.3.2", digestNull: true, signatureNull: false },
    signatureName: "ecdsa-with-SHA256",
    loginAlgorithm: "ES256",
  },
  SM2: {
    hashName: "SM3",
    nodeHashName: "sm3",
    hash: sm3,
    signMessage: (key, message, sm2Id) => {
      if (key.messagePrimitive) return key.messagePrimitive(message, sm2Id);
      if (!key.publicKeyPoint) throw badRequest("SM2 certificate without a public point");
      return requirePrimitive(key)(sm2Digest(key.publicKeyPoint, message, sm2Id));
    },
    signDigest: (key, e) => {
      if (e.length !== 32) throw badRequest(`an SM2 digest (e = SM3(Z‖M)) must be 32 bytes, got ${e.length}`);
      return requirePrimitive(key)(e);
    },
    toDer: rsToDer,
    toRawFormat: identity,
    cms: { digest: "1.2.156.10197.1.401", signature: "1.2.156.10197.1.501", digestNull: false, signatureNull: false },
    signatureName: "SM3withSM2",
    loginAlgorithm: "SM2SM3",
  },
};

export function signatureAlgorithm(keyAlgorithm: KeyAlgorithm): SignatureAlgorithm {
  return ALGORITHMS[keyAlgorithm];
}

export { SM2_DEFAULT_ID };
