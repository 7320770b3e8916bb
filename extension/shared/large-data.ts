/**
 * Large documents are hashed here (WebCrypto, in the background, off the page's main thread), so megabytes
 * never cross the native port: the host signs the digest. For raw and detached signatures that is all; for
 * attached ones the host returns the detached SignedData and the content is embedded here (cms-attach.ts),
 * because a host→browser message is capped at 1 MB while pages may sign up to 32 MB.
 */
import { attachContent } from "../../protocol/cms-attach.js";
import { base64ByteLength } from "../../protocol/validate.js";
import { HASH_IN_EXTENSION_BYTES } from "../shared/page-protocol.js";

interface SignRequest {
  data?: string;
  digest?: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
}

export interface PreparedSign<T extends SignRequest> {
  /** What goes to the host: the digest instead of large data. */
  request: T;
  /** Applied to the host's answer: embeds the content when the page asked for an attached signature. */
  finish<R extends { signature: string }>(result: R): R;
}

type Base64Codec = { fromBase64?: (text: string) => Uint8Array };

export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as Base64Codec).fromBase64;
  if (native) return native(text) as Uint8Array<ArrayBuffer>;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  const native = (bytes as unknown as { toBase64?: () => string }).toBase64;
  if (native) return native.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export async function prepareLargeData<T extends SignRequest>(params: T): Promise<PreparedSign<T>> {
  const unchanged: PreparedSign<T> = { request: params, finish: (result) => result };
  if (params.data === undefined || base64ByteLength(params.data) < HASH_IN_EXTENSION_BYTES) return unchanged;
  const content = base64ToBytes(params.data);
  const digest = bytesToBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", content)));
  const { data: _data, ...rest } = params;
  const attached = params.format === "pkcs7-attached";
  return {
    request: { ...rest, digest, format: attached ? "pkcs7-detached" : params.format } as T,
    finish: (result) =>
      attached ? { ...result, signature: bytesToBase64(attachContent(base64ToBytes(result.signature), content)) } : result,
  };
}
