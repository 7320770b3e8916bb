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
export function decodeCanonicalBase64(text: string, into?: (size: number) => Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> | null {
  if (text.length % 4 !== 0) return null;
  const size = base64ByteLength(text);
  // `into` lends a buffer of exactly `size` bytes (a reused one: fresh megabytes cost more than decoding them).
  const bytes = into ? into(size) : new Uint8Array(size);
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

/** One part of a concatenation to encode; `base64`, when given, is that part's own canonical encoding. */
export type Base64Piece = Uint8Array | { bytes: Uint8Array; base64: string };

/**
 * base64(piece₁ ‖ piece₂ ‖ …) without joining the pieces into one buffer first. A piece whose own base64 is
 * known and that starts on a 3-byte boundary of the whole is not encoded again: its text is reused as is
 * (an attached signature of a 20 MB document is mostly the page's own base64 of that document).
 */
export function concatenationToBase64(pieces: readonly Base64Piece[]): string {
  let text = "";
  /** Bytes (at most two) still waiting for the rest of their 3-byte group. */
  let carry: number[] = [];
  for (const piece of pieces) {
    const { bytes, base64: known } = piece instanceof Uint8Array ? { bytes: piece, base64: undefined } : piece;
    const aligned = carry.length === 0;
    const fill = aligned ? 0 : Math.min(3 - carry.length, bytes.length);
    carry.push(...bytes.subarray(0, fill));
    if (carry.length === 3) {
      text += bytesToBase64(Uint8Array.from(carry));
      carry = [];
    }
    const rest = bytes.subarray(fill);
    const whole = rest.length - (rest.length % 3);
    if (whole > 0) {
      // A piece's own text covers its whole groups exactly when the piece starts a group of the whole.
      text += known !== undefined && aligned ? known.slice(0, (whole / 3) * 4) : bytesToBase64(rest.subarray(0, whole));
    }
    carry.push(...rest.subarray(whole));
  }
  return carry.length > 0 ? text + bytesToBase64(Uint8Array.from(carry)) : text;
}
