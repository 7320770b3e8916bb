/**
 * Decryption on an SKF key (GM/T 0016): envelopes opened inside the key — the content key imported with
 * SKF_ImportSessionKey and the content decrypted there with SM4, so the content key never leaves the key —
 * and raw SM2 decryption through a vendor's SKF_ECCPrvKeyDecrypt where the library has one. The device
 * (device.ts) hands over its handles and checks through `SkfKeyAccess`.
 */
import { YztError } from "../../../protocol/errors.js";
import type { KeyAlgorithm } from "../../../protocol/types.js";
import type { EnvelopeOpening } from "../device.js";
import { blockCipherParam, callerCipherBlob, eccCipherBlobHeaderBytes, SGD_SM4_CBC } from "./abi.js";
import { garbageLength, requireFunctions, type HandleRef, type UlongRef } from "./binding.js";
import type { ContainerKey, SkfKeyAccess } from "./containers.js";

/** Raw SM2 decryption through the vendor extension, where the library has it; envelopes need none. */
export async function decryptOnKey(access: SkfKeyAccess, key: ContainerKey, keyAlgorithm: KeyAlgorithm, ciphertext: Uint8Array): Promise<Uint8Array> {
  const { binding } = access;
  const name = binding.fn.SKF_ECCPrvKeyDecrypt ? "SKF_ECCPrvKeyDecrypt" : null;
  if (keyAlgorithm !== "SM2" || name === null) {
    throw new YztError("UNSUPPORTED_ALGORITHM", `GM/T 0016 has no private-key decryption of raw ${keyAlgorithm} data and ${binding.path} offers no vendor extension for it: only envelopes (SOF_DecryptData) open with this key`);
  }
  const blob = Buffer.from(callerCipherBlob(ciphertext, binding.ulongBytes));
  // SM2 plaintext is exactly as long as C2.
  const plain = Buffer.alloc(Math.max(blob.length - eccCipherBlobHeaderBytes(binding.ulongBytes), 1));
  const length: UlongRef = [plain.length];
  access.check(await access.onWorker(name, access.container(key.container), blob, plain, length), name);
  if (length[0] > plain.length) throw garbageLength(binding, name, length[0]);
  return new Uint8Array(plain.subarray(0, length[0]));
}

export async function openEnvelopeOnKey(access: SkfKeyAccess, key: ContainerKey, opening: EnvelopeOpening): Promise<Uint8Array> {
  const { binding } = access;
  if (key.sign) {
    // SKF_ImportSessionKey unwraps with the container's encryption pair, never its signing one.
    throw new YztError("NO_CERTIFICATE", "the envelope is addressed to a signing certificate, whose key does not decrypt on an SKF key");
  }
  if (opening.content.cipher !== "SM4-CBC") {
    throw new YztError("UNSUPPORTED_ALGORITHM", `the envelope's content cipher (${opening.content.cipherOid}) cannot be opened inside an SKF key, which knows SM4`);
  }
  const fn = requireFunctions(binding, ["SKF_ImportSessionKey", "SKF_DecryptInit", "SKF_Decrypt", "SKF_CloseHandle"], "open envelopes inside the key");
  const wrapped = opening.keyAlgorithm === "SM2" ? callerCipherBlob(opening.wrappedKey, binding.ulongBytes) : opening.wrappedKey;
  const sessionKey: HandleRef = [null];
  access.check(fn.SKF_ImportSessionKey(access.container(key.container), SGD_SM4_CBC, Buffer.from(wrapped), wrapped.length, sessionKey), "SKF_ImportSessionKey");
  try {
    access.check(fn.SKF_DecryptInit(sessionKey[0], blockCipherParam(opening.content.iv)), "SKF_DecryptInit");
    const encrypted = Buffer.from(opening.content.encrypted);
    // PKCS#5 plaintext is never longer than its ciphertext: one call, no size query to trip a vendor's state.
    const plain = Buffer.alloc(Math.max(encrypted.length, 16));
    const length: UlongRef = [plain.length];
    access.check(await access.onWorker("SKF_Decrypt", sessionKey[0], encrypted, encrypted.length, plain, length), "SKF_Decrypt");
    if (length[0] > plain.length) throw garbageLength(binding, "SKF_Decrypt", length[0]);
    return new Uint8Array(plain.subarray(0, length[0]));
  } finally {
    fn.SKF_CloseHandle(sessionKey[0]);
  }
}
