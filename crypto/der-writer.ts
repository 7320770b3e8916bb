/**
 * The DER encodings that building certificates and requests needs beyond protocol/der.ts's TLV helpers:
 * OBJECT IDENTIFIER, BIT STRING, NULL and X.509 times. Byte work only, so that requests and certificates are
 * built without an ASN.1 library (and read back with the same project DER walker that reads certificates).
 */
import { derElement } from "../protocol/der.js";

const DOTTED_OID = /^[0-2](\.(0|[1-9]\d*))+$/;

export function isDottedOid(text: string): boolean {
  if (!DOTTED_OID.test(text)) return false;
  const [first, second] = text.split(".").map(Number) as [number, number];
  return first === 2 || second < 40; // X.660: arcs 0 and 1 have at most 40 children
}

/** Base-128 digits of one arc, most significant first, continuation bit on all but the last. */
function base128(arc: bigint): number[] {
  const digits = [Number(arc & 0x7fn)];
  for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) digits.unshift(Number(rest & 0x7fn) | 0x80);
  return digits;
}

/** Content octets of a dotted OID (the first two arcs share one subidentifier, X.690 §8.19.4). */
export function oidContent(dotted: string): Uint8Array {
  if (!isDottedOid(dotted)) throw new Error(`DER: "${dotted}" is not a dotted OBJECT IDENTIFIER`);
  const [first, second, ...rest] = dotted.split(".").map(BigInt) as [bigint, bigint, ...bigint[]];
  return Uint8Array.from([first * 40n + second, ...rest].flatMap(base128));
}

export function derOid(dotted: string): Uint8Array {
  return derElement(0x06, oidContent(dotted));
}

export const DER_NULL = Uint8Array.of(0x05, 0x00);

/** A BIT STRING of whole bytes (keys, signatures): no unused bits. */
export function derBitString(bytes: Uint8Array): Uint8Array {
  return derElement(0x03, Uint8Array.of(0), bytes);
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }. */
export function derAlgorithmIdentifier(oid: string, parameters?: Uint8Array): Uint8Array {
  return parameters ? derElement(0x30, derOid(oid), parameters) : derElement(0x30, derOid(oid));
}

const twoDigits = (value: number) => String(value).padStart(2, "0");

/**
 * RFC 5280 §4.1.2.5: UTCTime for the years 1950–2049, GeneralizedTime otherwise, both in UTC to the second
 * (milliseconds dropped: DER allows no fraction in certificate times).
 */
export function derTime(date: Date): Uint8Array {
  if (Number.isNaN(date.getTime())) throw new Error("DER: invalid date");
  const year = date.getUTCFullYear();
  const rest = [date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()].map(twoDigits).join("");
  const utc = year >= 1950 && year < 2050;
  if (!utc && (year < 0 || year > 9999)) throw new Error("DER: year out of range for a certificate time");
  const text = `${utc ? twoDigits(year % 100) : String(year).padStart(4, "0")}${rest}Z`;
  return derElement(utc ? 0x17 : 0x18, new TextEncoder().encode(text));
}
