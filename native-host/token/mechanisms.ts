/**
 * Which PKCS#11 mechanism signs for each key algorithm. The input each mechanism takes is defined by the
 * matching entry in crypto/algorithms.ts (CKM_RSA_PKCS: a DigestInfo; CKM_ECDSA: the bare hash).
 */
import { YztError } from "../../protocol/errors.js";
import type { KeyAlgorithm } from "../../protocol/types.js";

const STANDARD_MECHANISMS: Partial<Record<KeyAlgorithm, string>> = { RSA: "RSA_PKCS", EC: "ECDSA" };

export function signingMechanism(keyAlgorithm: KeyAlgorithm, moduleName: string): string {
  const mechanism = STANDARD_MECHANISMS[keyAlgorithm];
  if (!mechanism) {
    throw new YztError("UNSUPPORTED_ALGORITHM", `the PKCS#11 module ${moduleName} has no known ${keyAlgorithm} signing mechanism`);
  }
  return mechanism;
}
