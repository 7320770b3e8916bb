/** Base64 ⇄ bytes for megabyte-sized documents: the browsers' native codecs where they exist, chunked otherwise. */

import { base64ByteLength, isBase64 } from "../../protocol/validate.js";

type NativeEncoder = { toBase64?: () => string };
/** Decodes into an existing buffer (TC39 base64 proposal, Chromium 140+, Firefox 133+). */
type NativeInto = { setFromBase64?: (text: string, options?: { lastChunkHandling?: "strict" }) => { read: number; written: number } };

/**
 * Canonical padded base64 (what isBase64 accepts) decoded in one pass, or null when it is not canonical.
 * For megabytes this is the page's whole validation: the native decoder checks the alphabet and the padding
 * while it writes into a buffer of the exact size, about twice as fast as a separate pattern test plus decoding.
 */
export function decodeCanonicalBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 !== 0) return null;
  const bytes = new Uint8Array(base64ByteLength(text));
  const native = (bytes as unknown as NativeInto).setFromBase64;
  try {
    if (native) {
      // Strict: padding required and its bits zero. Whitespace (which the codec skips) leaves bytes unwritten.
      const { read, written } = native.call(bytes, text, { lastChunkHandling: "strict" });
      return read === text.length && written === bytes.length ? bytes : null;
    }
    // atob is lenient (whitespace, missing padding): the pattern decides.
    if (!isBase64(text)) return null;
    const binary = atob(text);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return null;
  }
}

/** Bytes of base64 that was validated already (schemas, isBase64). */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeCanonicalBase64(text);
  if (!bytes) throw new TypeError("not canonical base64");
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
