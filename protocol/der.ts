/**
 * A minimal DER reader (definite lengths only), for the few places that walk ASN.1 structures without loading
 * an ASN.1 library: embedding content into CMS (both ends) and reading SM2 certificate signatures (host).
 */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  at: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

export function readTlv(der: Uint8Array, at: number, limit = der.length): Tlv {
  const tag = der[at];
  const first = der[at + 1];
  if (tag === undefined || first === undefined || at + 2 > limit) throw new Error("DER: truncated");
  let length = first;
  let start = at + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER: unsupported length encoding");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? Number.NaN);
    start += count;
  }
  const end = start + length;
  if (!Number.isFinite(end) || end > limit) throw new Error("DER: length runs past its container");
  return { tag, at, start, end };
}

export function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) throw new Error(`DER: expected ${what}`);
  return tlv;
}

/** DER length octets (short form below 128, else long form). */
export function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

/** Minimal two's-complement INTEGER for an unsigned big-endian magnitude. */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const body = Array.from(magnitude.subarray(start));
  if (body[0]! & 0x80) body.unshift(0);
  return Uint8Array.from([0x02, ...derLength(body.length), ...body]);
}

/** r||s (two equal big-endian halves) → DER SEQUENCE { INTEGER r, INTEGER s } (ECDSA-Sig-Value, SM2). */
export function rawSignatureToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return derElement(0x30, derUnsignedInteger(raw.subarray(0, half)), derUnsignedInteger(raw.subarray(half)));
}

/** One buffer holding the parts in order (each copied once). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A TLV header: the tag and the length octets for `length` content bytes. */
export function derHeader(tag: number, length: number): Uint8Array {
  return Uint8Array.of(tag, ...derLength(length));
}

/** A whole TLV element whose content is the parts in order. */
export function derElement(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(...parts);
  return concatBytes(derHeader(tag, body.length), body);
}
