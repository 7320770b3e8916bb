/**
 * Key writing on an SKF key (GM/T 0016), for certificate renewal from the issuer's site: listing containers
 * with their public keys, creating a container with a new signing pair, importing certificates and the
 * encryption pair the CA's key-management centre wrapped to the signing key, deleting a container. The
 * device (device.ts) hands this module its handles through `SkfKeyAccess`; the host decides what may be
 * written (token/key-lifecycle.ts), this module only says it to the library.
 */
import { readX509 } from "../../../crypto/x509-reader.js";
import { YztError } from "../../../protocol/errors.js";
import { rsaPublicKeyInfo, sm2PublicKeyInfo } from "../../../crypto/public-key.js";
import { encodeEnvelopedKeyBlob, parseEnvelopedKeyPair } from "../../../crypto/enveloped-key.js";
import type { GeneratedKeyAlgorithm, KeyContainer, WrappedKeyPair } from "../device.js";
import {
  CONTAINER_ECC, CONTAINER_RSA, eccPublicKeyBlobBytes, eccPublicKeyBlobToPoint, nameBytes, parseNameList, rsaPublicKeyBlobBytes,
  rsaPublicKeyBlobParts, SGD_SM2_1, type UlongBytes,
} from "./abi.js";
import { readSized, requireFunctions, type HandleRef, type SkfBinding, type SkfFunctionName, type SkfHandle, type UlongRef } from "./binding.js";
import { skfKeyId } from "./key-ids.js";

/** RSA pairs a key generates for renewal: 2048 bits, what CAs issue today. */
const RSA_BITS = 2048;

/** A pair of a container, as the device knows it by key id. */
export interface ContainerKey {
  container: string;
  type: number;
  sign: boolean;
}

/** What key writing (here), signing (signing.ts) and decryption (decryption.ts) use of their device: handles, the mapped error check, worker calls. */
export interface SkfKeyAccess {
  binding: SkfBinding;
  application(): SkfHandle;
  container(name: string): SkfHandle;
  /** Closes a container's handle (before deleting it) and forgets every key id (container indices move). */
  forgetContainers(): void;
  /** Key ids of pairs that have no certificate yet (a certificate request signs with one). */
  registerKey(keyId: string, key: ContainerKey): void;
  exportCertificate(container: SkfHandle, sign: boolean): Uint8Array | null;
  check(code: number, call: string): void;
  removalAware<T>(work: () => T): T;
  onWorker(name: SkfFunctionName, ...args: unknown[]): Promise<number>;
}

function containerNames(access: SkfKeyAccess): string[] {
  const application = access.application();
  const list = access.removalAware(() => readSized(access.binding, "SKF_EnumContainer", (buffer, length) => access.binding.fn.SKF_EnumContainer(application, buffer, length)));
  return parseNameList(list, list.length);
}

function algorithmOf(type: number): GeneratedKeyAlgorithm | null {
  return type === CONTAINER_ECC ? "SM2" : type === CONTAINER_RSA ? "RSA" : null;
}

function publicKeyInfo(blob: Uint8Array, algorithm: GeneratedKeyAlgorithm, ulong: UlongBytes): Uint8Array {
  try {
    if (algorithm === "SM2") return sm2PublicKeyInfo(eccPublicKeyBlobToPoint(blob, ulong));
    const { modulus, exponent } = rsaPublicKeyBlobParts(blob, ulong);
    return rsaPublicKeyInfo(modulus, exponent);
  } catch (error) {
    throw new YztError("INTERNAL", `the key library returned a malformed public key: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A pair's public key, or null when the container has no such pair (the library says so in its own way). */
function exportPublicKey(access: SkfKeyAccess, handle: SkfHandle, sign: boolean, algorithm: GeneratedKeyAlgorithm): Uint8Array | null {
  const { SKF_ExportPublicKey } = access.binding.fn;
  if (!SKF_ExportPublicKey) return null; // optional: the certificate tells the key where there is one
  let blob: Buffer;
  try {
    blob = readSized(access.binding, "SKF_ExportPublicKey", (buffer, length) => SKF_ExportPublicKey(handle, sign ? 1 : 0, buffer, length));
  } catch (error) {
    if (YztError.from(error).code === "TOKEN_REMOVED") throw error;
    return null;
  }
  return publicKeyInfo(blob, algorithm, access.binding.ulongBytes);
}

/** The public key a certificate names, or null for bytes that are no certificate. */
function keyOfCertificate(der: Uint8Array): Uint8Array | null {
  try {
    return readX509(der).spki;
  } catch {
    return null;
  }
}

export function listContainers(access: SkfKeyAccess): KeyContainer[] {
  return containerNames(access).map((name, index) => {
    const handle = access.container(name);
    const type: UlongRef = [0];
    access.check(access.binding.fn.SKF_GetContainerType(handle, type), "SKF_GetContainerType");
    const keyAlgorithm = algorithmOf(type[0]);
    const container: KeyContainer = {
      name, keyAlgorithm, signKeyId: null, encryptKeyId: null, signPublicKey: null, encryptPublicKey: null, signCertificate: null, encryptCertificate: null,
    };
    if (keyAlgorithm === null) return container;
    for (const sign of [true, false]) {
      // The certificate is read whatever the public-key export says: a library that fails that export must
      // not hide a certificate (the delete guard counts on seeing every one); its key is then the certificate's.
      const certificate = access.exportCertificate(handle, sign);
      const publicKey = exportPublicKey(access, handle, sign, keyAlgorithm) ?? (certificate ? keyOfCertificate(certificate) : null);
      if (publicKey === null) continue;
      const keyId = skfKeyId(index, sign);
      access.registerKey(keyId, { container: name, type: type[0], sign });
      if (sign) Object.assign(container, { signKeyId: keyId, signPublicKey: publicKey, signCertificate: certificate });
      else Object.assign(container, { encryptKeyId: keyId, encryptPublicKey: publicKey, encryptCertificate: certificate });
    }
    return container;
  });
}

/**
 * SKF_CreateContainer + SKF_GenECCKeyPair / SKF_GenRSAKeyPair. A generation that fails takes its empty
 * container with it where the key still answers, so no nameless half remains.
 */
export async function generateKeyPair(access: SkfKeyAccess, name: string, algorithm: GeneratedKeyAlgorithm): Promise<Uint8Array> {
  const generate = algorithm === "SM2" ? "SKF_GenECCKeyPair" : "SKF_GenRSAKeyPair";
  const fn = requireFunctions(access.binding, ["SKF_CreateContainer", "SKF_DeleteContainer", generate], "generate key pairs");
  if (containerNames(access).includes(name)) throw new YztError("BAD_REQUEST", `the key already has a container named ${name}`);
  const application = access.application();
  const created: HandleRef = [null];
  access.forgetContainers();
  access.check(fn.SKF_CreateContainer(application, nameBytes(name), created), "SKF_CreateContainer");
  const ulong = access.binding.ulongBytes;
  const blob = Buffer.alloc(algorithm === "SM2" ? eccPublicKeyBlobBytes(ulong) : rsaPublicKeyBlobBytes(ulong));
  try {
    access.check(await access.onWorker(generate, created[0], algorithm === "SM2" ? SGD_SM2_1 : RSA_BITS, blob), generate);
    return publicKeyInfo(blob, algorithm, ulong);
  } catch (error) {
    access.binding.fn.SKF_CloseContainer(created[0]);
    if (YztError.from(error).code !== "TOKEN_REMOVED") fn.SKF_DeleteContainer(application, nameBytes(name));
    throw error;
  } finally {
    access.forgetContainers();
  }
}

export function importCertificate(access: SkfKeyAccess, name: string, sign: boolean, der: Uint8Array): void {
  const { SKF_ImportCertificate } = requireFunctions(access.binding, ["SKF_ImportCertificate"], "write certificates");
  access.check(SKF_ImportCertificate(access.container(name), sign ? 1 : 0, Buffer.from(der), der.length), "SKF_ImportCertificate");
}

/** SKF_ImportECCKeyPair: the key unwraps the pair with the container's signing key and checks it itself. */
export async function importEncryptionKeyPair(access: SkfKeyAccess, name: string, pair: WrappedKeyPair): Promise<void> {
  requireFunctions(access.binding, ["SKF_ImportECCKeyPair"], "import encryption key pairs");
  // Pages send the blob with a 32-bit ULONG; a library built with a 64-bit one reads every ULONG 8 bytes wide.
  const blob = access.binding.ulongBytes === 4 ? pair.blob : encodeEnvelopedKeyBlob(parseEnvelopedKeyPair(pair.blob), access.binding.ulongBytes);
  access.check(await access.onWorker("SKF_ImportECCKeyPair", access.container(name), Buffer.from(blob)), "SKF_ImportECCKeyPair");
}

export function deleteContainer(access: SkfKeyAccess, name: string): void {
  const { SKF_DeleteContainer } = requireFunctions(access.binding, ["SKF_DeleteContainer"], "delete containers");
  const application = access.application();
  access.forgetContainers();
  access.check(SKF_DeleteContainer(application, nameBytes(name)), "SKF_DeleteContainer");
}
