/**
 * Turns a detached CMS SignedData into the attached one by embedding the content: the signature covers only
 * the signed attributes (which hold the content's digest), so both forms carry the same signer info and
 * only the encapsulated content differs. This lets large documents be hashed where they already are (the
 * extension) and never cross the native port, whose host→browser messages are capped at 1 MB.
 *
 * Works on DER bytes (definite lengths, as the host writes them) and checks every header it walks through.
 */
import { concatBytes, expectTag, readTlv } from "./der.js";

/** Content-type OIDs of the two CMS profiles (API.md `cmsProfile`): PKCS#7 and GM/T 0010. */
export const CMS_CONTENT_TYPES = {
  pkcs7: { data: "1.2.840.113549.1.7.1", signedData: "1.2.840.113549.1.7.2" },
  gm: { data: "1.2.156.10197.6.1.4.2.1", signedData: "1.2.156.10197.6.1.4.2.2" },
} as const;
export type CmsProfile = keyof typeof CMS_CONTENT_TYPES;

/** The signedData OIDs above, DER-encoded (tag, length, value). */
const SIGNED_DATA_OIDS = [
  [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
  [0x06, 0x0a, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x06, 0x01, 0x04, 0x02, 0x02],
];

function header(tag: number, length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(tag, length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(tag, 0x80 | bytes.length, ...bytes);
}

/** ContentInfo{signedData, [0] SignedData{..., encapContentInfo{data}, ...}} → the same with eContent = content. */
export function attachContent(detached: Uint8Array, content: Uint8Array): Uint8Array {
  const outer = expectTag(readTlv(detached, 0, detached.length), 0x30, "ContentInfo SEQUENCE");
  if (outer.end !== detached.length) throw new Error("CMS: trailing bytes after ContentInfo");
  const oid = expectTag(readTlv(detached, outer.start, outer.end), 0x06, "contentType");
  const oidBytes = detached.subarray(outer.start, oid.end);
  const known = SIGNED_DATA_OIDS.some((oidDer) => oidDer.length === oidBytes.length && oidDer.every((b, i) => b === oidBytes[i]));
  if (!known) throw new Error("CMS: not SignedData");
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
  return concatBytes(
    outerHeader, oidBytes, explicitHeader, signedHeader, before,
    encapHeader, eContentTypeTlv, eContentHeader, octetsHeader, content, after,
  );
}
