/** Base64 ⇄ bytes for megabyte-sized documents: the browsers' native codecs where they exist, chunked otherwise. */

type NativeDecoder = { fromBase64?: (text: string) => Uint8Array<ArrayBuffer> };
type NativeEncoder = { toBase64?: () => string };

export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as unknown as NativeDecoder).fromBase64;
  if (native) return native(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes: Uint8Array): string {
  const native = (bytes as unknown as NativeEncoder).toBase64;
  if (native) return native.call(bytes);
  let binary = "";
  // Chunks keep String.fromCharCode's argument list far below engines' limits.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
