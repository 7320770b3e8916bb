/**
 * Turns a detached CMS SignedData into the attached one by embedding the content: the signature covers only
 * the signed attributes (which hold the content's digest), so both forms carry the same signer info and
 * only the encapsulated content differs. This lets large documents be hashed where they already are (the
 * extension) and never cross the native port, whose host→browser messages are capped at 1 MB.
 *
 * Works on DER bytes (definite lengths, as the host writes them) and checks every header it walks through.
 */
import { concatBytes, derHeader, expectTag, readTlv } from "./der.js";

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


/** The pieces of a ContentInfo{SignedData} around its encapsulated content, as views into the input. */
interface SignedDataParts {
  oid: Uint8Array;
  /** SignedData members before encapContentInfo (version, digestAlgorithms). */
  before: Uint8Array;
  eContentType: Uint8Array;
  /** The embedded content (primitive OCTET STRING), when there is one. */
  content: Uint8Array | null;
  /** SignedData members after encapContentInfo (certificates, signerInfos). */
  after: Uint8Array;
}

function splitSignedData(cms: Uint8Array): SignedDataParts {
  const outer = expectTag(readTlv(cms, 0, cms.length), 0x30, "ContentInfo SEQUENCE");
  if (outer.end !== cms.length) throw new Error("CMS: trailing bytes after ContentInfo");
  const oid = expectTag(readTlv(cms, outer.start, outer.end), 0x06, "contentType");
  const oidBytes = cms.subarray(outer.start, oid.end);
  const known = SIGNED_DATA_OIDS.some((oidDer) => oidDer.length === oidBytes.length && oidDer.every((b, i) => b === oidBytes[i]));
  if (!known) throw new Error("CMS: not SignedData");
  const explicit = expectTag(readTlv(cms, oid.end, outer.end), 0xa0, "[0] content");
  const signedData = expectTag(readTlv(cms, explicit.start, explicit.end), 0x30, "SignedData SEQUENCE");
  const version = expectTag(readTlv(cms, signedData.start, signedData.end), 0x02, "version");
  const digestAlgorithms = expectTag(readTlv(cms, version.end, signedData.end), 0x31, "digestAlgorithms SET");
  const encap = expectTag(readTlv(cms, digestAlgorithms.end, signedData.end), 0x30, "encapContentInfo SEQUENCE");
  const eContentType = expectTag(readTlv(cms, encap.start, encap.end), 0x06, "eContentType");
  let content: Uint8Array | null = null;
  if (eContentType.end !== encap.end) {
    const eContent = expectTag(readTlv(cms, eContentType.end, encap.end), 0xa0, "[0] eContent");
    const octets = expectTag(readTlv(cms, eContent.start, eContent.end), 0x04, "primitive OCTET STRING content");
    if (octets.end !== encap.end) throw new Error("CMS: unexpected members in encapContentInfo");
    content = cms.subarray(octets.start, octets.end);
  }
  return {
    oid: oidBytes, before: cms.subarray(signedData.start, digestAlgorithms.end), eContentType: cms.subarray(encap.start, eContentType.end),
    content, after: cms.subarray(encap.end, signedData.end),
  };
}

/**
 * The attached ContentInfo is `head ‖ content ‖ tail`: the bytes around the content, for `contentLength`
 * bytes of it (null: no content at all). Callers that never need the whole signature in one buffer (the
 * extension encodes it to base64 piece by piece) are spared a copy of a document of up to 32 MB.
 */
export interface AttachedFraming {
  head: Uint8Array;
  tail: Uint8Array;
}

function frameSignedData(parts: SignedDataParts, contentLength: number | null): AttachedFraming {
  const content = contentLength ?? 0;
  const octetsHeader = contentLength === null ? new Uint8Array() : derHeader(0x04, content);
  const eContentHeader = contentLength === null ? new Uint8Array() : derHeader(0xa0, octetsHeader.length + content);
  const encapBodyLength = parts.eContentType.length + eContentHeader.length + octetsHeader.length + content;
  const encapHeader = derHeader(0x30, encapBodyLength);
  const signedBodyLength = parts.before.length + encapHeader.length + encapBodyLength + parts.after.length;
  const signedHeader = derHeader(0x30, signedBodyLength);
  const explicitHeader = derHeader(0xa0, signedHeader.length + signedBodyLength);
  const outerHeader = derHeader(0x30, parts.oid.length + explicitHeader.length + signedHeader.length + signedBodyLength);
  return {
    head: concatBytes(outerHeader, parts.oid, explicitHeader, signedHeader, parts.before, encapHeader, parts.eContentType, eContentHeader, octetsHeader),
    tail: parts.after.slice(),
  };
}

/** The framing that attachContent would put around `contentLength` bytes of content. */
export function attachedFraming(detached: Uint8Array, contentLength: number): AttachedFraming {
  const parts = splitSignedData(detached);
  if (parts.content) throw new Error("CMS: the signature already embeds content");
  return frameSignedData(parts, contentLength);
}

/** ContentInfo{signedData, [0] SignedData{..., encapContentInfo{data}, ...}} → the same with eContent = content. */
export function attachContent(detached: Uint8Array, content: Uint8Array): Uint8Array {
  const { head, tail } = attachedFraming(detached, content.length);
  return concatBytes(head, content, tail);
}

/** The reverse: an attached SignedData as its detached form and the embedded content (a view, not a copy). */
export function detachContent(attached: Uint8Array): { detached: Uint8Array; content: Uint8Array } {
  const parts = splitSignedData(attached);
  if (!parts.content) throw new Error("CMS: the signature embeds no content");
  const { head, tail } = frameSignedData(parts, null);
  return { detached: concatBytes(head, tail), content: parts.content };
}
