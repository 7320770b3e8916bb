/**
 * Large documents are hashed here with WebCrypto, so megabytes never cross the native port: for raw and
 * detached signatures the host only needs the SHA-256. Attached signatures must embed the data itself.
 */
import { HASH_IN_EXTENSION_BYTES } from "../shared/page-protocol.js";

function base64ByteLength(text: string): number {
  return (text.length / 4) * 3 - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Replaces large `data` by its `digest` when the format allows it; returns the input unchanged otherwise. */
export async function digestLargeData<T extends { data?: string; digest?: string; format: string }>(params: T): Promise<T> {
  if (params.data === undefined || params.format === "pkcs7-attached" || base64ByteLength(params.data) < HASH_IN_EXTENSION_BYTES) return params;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", base64ToBytes(params.data)));
  const { data: _data, ...rest } = params;
  return { ...rest, digest: bytesToBase64(digest) } as T;
}
