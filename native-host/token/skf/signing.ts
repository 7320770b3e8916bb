/**
 * Signing on an SKF key (GM/T 0016), the twin of pkcs11/signer.ts: SM2 signs e = SM3(Z‖M), computed by the
 * host (the signer ID is the caller's), with SKF_ECCSignData; RSA signs a DigestInfo with SKF_RSASignData.
 * The device hands over its handles and checks through `SkfKeyAccess`.
 */
import { YztError } from "../../../protocol/errors.js";
import type { SigningKey } from "../../../crypto/algorithms.js";
import type { SignerIdentity } from "../device.js";
import { CONTAINER_ECC, CONTAINER_RSA, ECC_SIGNATURE_BLOB_BYTES, eccSignatureToRs } from "./abi.js";
import { garbageLength, requireFunctions, type UlongRef } from "./binding.js";
import type { ContainerKey, SkfKeyAccess } from "./containers.js";

/** RSA-4096 signatures are 512 bytes; nothing an SKF key makes is longer. */
const MAX_RSA_SIGNATURE_BYTES = 512;

export function skfSigningKey(access: SkfKeyAccess, key: ContainerKey, certificate: SignerIdentity): SigningKey {
  const base = { keyAlgorithm: certificate.keyAlgorithm, certificate: certificate.der, ...(certificate.publicKeyPoint ? { publicKeyPoint: certificate.publicKeyPoint } : {}) };
  if (certificate.keyAlgorithm === "SM2" && key.type === CONTAINER_ECC) return { ...base, primitive: (e) => signEcc(access, key, e) };
  if (certificate.keyAlgorithm === "RSA" && key.type === CONTAINER_RSA) {
    requireFunctions(access.binding, ["SKF_RSASignData"], "sign with RSA keys");
    return { ...base, primitive: (digestInfo) => signRsa(access, key, digestInfo) };
  }
  throw new YztError("UNSUPPORTED_ALGORITHM", `SKF (GM/T 0016) keys sign with SM2 or RSA; this ${certificate.keyAlgorithm} certificate cannot be used through ${access.binding.path}`);
}

async function signEcc(access: SkfKeyAccess, key: ContainerKey, e: Uint8Array): Promise<Uint8Array> {
  const blob = Buffer.alloc(ECC_SIGNATURE_BLOB_BYTES);
  access.check(await access.onWorker("SKF_ECCSignData", access.container(key.container), Buffer.from(e), e.length, blob), "SKF_ECCSignData");
  try {
    return eccSignatureToRs(blob);
  } catch (error) {
    throw new YztError("INTERNAL", `SKF_ECCSignData of ${access.binding.path} returned a malformed signature: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function signRsa(access: SkfKeyAccess, key: ContainerKey, digestInfo: Uint8Array): Promise<Uint8Array> {
  const signature = Buffer.alloc(MAX_RSA_SIGNATURE_BYTES);
  const length: UlongRef = [signature.length];
  access.check(await access.onWorker("SKF_RSASignData", access.container(key.container), Buffer.from(digestInfo), digestInfo.length, signature, length), "SKF_RSASignData");
  if (length[0] === 0 || length[0] > signature.length) throw garbageLength(access.binding, "SKF_RSASignData", length[0]);
  return new Uint8Array(signature.subarray(0, length[0]));
}
