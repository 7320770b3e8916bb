/**
 * Turns a detached CMS SignedData into the attached one by embedding the content: the signature covers only
 * the signed attributes (which hold the content's digest), so both forms carry the same signer info and
 * only the encapsulated content differs. This lets large documents be hashed where they already are (the
 * extension) and never cross the native port, whose host→browser messages are capped at 1 MB.
 *
 * Works on DER bytes (definite lengths, as the host writes them) and checks every header it walks through.
 */

interface Tlv {
  tag: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

const OID_SIGNED_DATA = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  const tag = der[at];
  const first = der[at + 1];
  if (tag === undefined || first === undefined) throw new Error("CMS: truncated");
  let length = first;
  let start = at + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error("CMS: unsupported length encoding");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? Number.NaN);
    start += count;
  }
  const end = start + length;
  if (!Number.isFinite(end) || end > limit) throw new Error("CMS: length runs past its container");
  return { tag, start, end };
}

function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) throw new Error(`CMS: expected ${what}`);
  return tlv;
}

function header(tag: number, length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(tag, length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(tag, 0x80 | bytes.length, ...bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** ContentInfo{signedData, [0] SignedData{..., encapContentInfo{data}, ...}} → the same with eContent = content. */
export function attachContent(detached: Uint8Array, content: Uint8Array): Uint8Array {
  const outer = expectTag(readTlv(detached, 0, detached.length), 0x30, "ContentInfo SEQUENCE");
  if (outer.end !== detached.length) throw new Error("CMS: trailing bytes after ContentInfo");
  const oid = expectTag(readTlv(detached, outer.start, outer.end), 0x06, "contentType");
  const oidBytes = detached.subarray(outer.start, oid.end);
  if (oidBytes.length !== OID_SIGNED_DATA.length || oidBytes.some((b, i) => b !== OID_SIGNED_DATA[i])) throw new Error("CMS: not SignedData");
  const explicit = expectTag(readTlv(detached, oid.end, outer.end), 0xa0, "[0] content");
  const signedData = expectTag(readTlv(detached, explicit.start, explicit.end), 0x30, "SignedData SEQUENCE");
  const version = expectTag(readTlv(detached, signedData.start, signedData.end), 0x02, "version");
  const digestAlgorithms = expectTag(readTlv(detached, version.end, signedData.end), 0x31, "digestAlgorithms SET");
  const encap = expectTag(readTlv(detached, digestAlgorithms.end, signedData.end), 0x30, "encapContentInfo SEQUENCE");
  const eContentType = expectTag(readTlv(detached, encap.start, encap.end), 0x06, "eContentType");
  if (eContentType.end !== encap.end) throw new Error("CMS: the signature already embeds content");

  // Lengths first, then one output buffer: the content is copied exactly once, however large it is.
  const octetsHeader = header(0x04, content.length);
  const eContentHeader = header(0xa0, octetsHeader.length + content.length);
  const eContentTypeTlv = detached.subarray(encap.start, encap.end);
  const encapBodyLength = eContentTypeTlv.length + eContentHeader.length + octetsHeader.length + content.length;
  const encapHeader = header(0x30, encapBodyLength);
  const before = detached.subarray(signedData.start, digestAlgorithms.end);
  const after = detached.subarray(encap.end, signedData.end);
  const signedBodyLength = before.length + encapHeader.length + encapBodyLength + after.length;
  const signedHeader = header(0x30, signedBodyLength);
  const explicitHeader = header(0xa0, signedHeader.length + signedBodyLength);
  const outerHeader = header(0x30, oidBytes.length + explicitHeader.length + signedHeader.length + signedBodyLength);
  return concat([
    outerHeader, oidBytes, explicitHeader, signedHeader, before,
    encapHeader, eContentTypeTlv, eContentHeader, octetsHeader, content, after,
  ]);
}
