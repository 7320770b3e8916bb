/**
 * Reads the fields of a DER X.509 certificate (RFC 5280 §4.1) with the project's DER walker: what listing a
 * key's certificates needs, without an ASN.1 library. pkijs took most of a cold certificate list (its schema
 * matching, and compiling it at all): an office hub lists forty certificates at the first contact. Lenient
 * where real keys are sloppy (bytes after the certificate, unknown string types), strict where a wrong
 * reading would mislead (lengths, tags, dates).
 */
import { expectTag, readTlv, type Tlv } from "../protocol/der.js";

export interface NameAttribute {
  /** Dotted OID of the attribute type. */
  type: string;
  /** The value as text; for a value that is not a string, its content bytes in hex. */
  value: string;
}

export interface CertificateExtension {
  oid: string;
  /** Content of extnValue (the DER of the extension's own structure). */
  value: Uint8Array;
}

export interface X509Fields {
  /** 0 for v1 … 2 for v3, as encoded. */
  version: number;
  /** Content bytes of the serial INTEGER, as encoded (a leading zero byte included). */
  serialNumber: Uint8Array;
  /** The outer signatureAlgorithm's OID. */
  signatureAlgorithm: string;
  issuer: NameAttribute[];
  subject: NameAttribute[];
  /** The issuer and subject Names as encoded, DER (PKCS#11 CKA_ISSUER / CKA_SUBJECT take them so). */
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The whole SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  publicKeyAlgorithm: string;
  /** The algorithm parameters when they are an OID (an EC key's named curve). */
  publicKeyCurve?: string;
  /** The subjectPublicKey BIT STRING's bits (the unused-bits count dropped). */
  publicKey: Uint8Array;
  extensions: CertificateExtension[];
}

const TAG = {
  integer: 0x02, bitString: 0x03, octetString: 0x04, oid: 0x06, sequence: 0x30, set: 0x31,
  utcTime: 0x17, generalizedTime: 0x18, version: 0xa0, extensions: 0xa3,
} as const;

/** Children of a constructed element, in order. */
export function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    children.push(child);
    at = child.end;
  }
  return children;
}

export function contentOf(der: Uint8Array, tlv: Tlv): Uint8Array {
  return der.subarray(tlv.start, tlv.end);
}

export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new Error("DER: empty OBJECT IDENTIFIER");
  const arcs: Array<number | bigint> = [];
  let value = 0n;
  for (let i = 0; i < bytes.length; i++) {
    value = (value << 7n) | BigInt(bytes[i]! & 0x7f);
    if ((bytes[i]! & 0x80) !== 0) {
      if (i === bytes.length - 1) throw new Error("DER: truncated OBJECT IDENTIFIER");
      continue;
    }
    if (arcs.length === 0) {
      const first = value < 80n ? value / 40n : 2n;
      arcs.push(first, value - first * 40n);
    } else {
      arcs.push(value);
    }
    value = 0n;
  }
  return arcs.join(".");
}

function utf16be(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return text;
}

function utf32be(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i + 3 < bytes.length; i += 4) text += String.fromCodePoint(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
  return text;
}

/** The text of an ASN.1 string type; undefined for anything that is not one. */
export function stringValue(tag: number, bytes: Uint8Array): string | undefined {
  switch (tag) {
    case 0x0c: // UTF8String
      return Buffer.from(bytes).toString("utf8");
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x14: // TeletexString (T61): Latin-1 is what issuers put there in practice
    case 0x15: // VideotexString
    case 0x16: // IA5String
    case 0x19: // GraphicString
    case 0x1a: // VisibleString
    case 0x1b: // GeneralString
      return Buffer.from(bytes).toString("latin1");
    case 0x1c: // UniversalString
      return utf32be(bytes);
    case 0x1e: // BMPString: older Chinese CAs write company names this way
      return utf16be(bytes);
    default:
      return undefined;
  }
}

function decodeName(der: Uint8Array, name: Tlv): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const rdn of childrenOf(der, expectTag(name, TAG.sequence, "Name"))) {
    for (const pair of childrenOf(der, expectTag(rdn, TAG.set, "RelativeDistinguishedName"))) {
      const [type, value] = childrenOf(der, expectTag(pair, TAG.sequence, "AttributeTypeAndValue"));
      if (!type || !value) throw new Error("DER: AttributeTypeAndValue needs a type and a value");
      const bytes = contentOf(der, value);
      attributes.push({ type: decodeOid(contentOf(der, expectTag(type, TAG.oid, "attribute type"))), value: stringValue(value.tag, bytes) ?? Buffer.from(bytes).toString("hex") });
    }
  }
  return attributes;
}

const TIME_SHAPES: Record<number, RegExp> = {
  [TAG.utcTime]: /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/,
  [TAG.generalizedTime]: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/,
};

/** UTCTime (years 1950–2049, RFC 5280 §4.1.2.5.1) or GeneralizedTime, both in UTC. */
export function decodeTime(der: Uint8Array, time: Tlv): Date {
  const shape = TIME_SHAPES[time.tag];
  const match = shape?.exec(Buffer.from(contentOf(der, time)).toString("latin1"));
  if (!match) throw new Error("DER: a certificate time must be a UTCTime or GeneralizedTime in UTC");
  const [, yearText, month, day, hour, minute, second] = match.map(Number) as [number, number, number, number, number, number, number];
  const year = time.tag === TAG.utcTime ? (yearText < 50 ? 2000 + yearText : 1900 + yearText) : yearText;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) throw new Error("DER: a certificate time names no real day");
  return date;
}

function decodeExtensions(der: Uint8Array, wrapper: Tlv | undefined): CertificateExtension[] {
  if (!wrapper) return [];
  const [list] = childrenOf(der, wrapper);
  if (!list) return [];
  return childrenOf(der, expectTag(list, TAG.sequence, "Extensions")).map((extension) => {
    const parts = childrenOf(der, expectTag(extension, TAG.sequence, "Extension"));
    // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }: nothing here reads `critical`.
    const oid = decodeOid(contentOf(der, expectTag(parts[0]!, TAG.oid, "extnID")));
    const value = parts[parts.length - 1];
    if (!value || parts.length < 2) throw new Error("DER: an extension needs a value");
    return { oid, value: contentOf(der, expectTag(value, TAG.octetString, "extnValue")) };
  });
}

/** The fields of a DER certificate; throws a plain Error naming what is malformed. */
export function readX509(der: Uint8Array): X509Fields {
  const certificate = expectTag(readTlv(der, 0), TAG.sequence, "Certificate");
  const [tbs, signatureAlgorithm] = childrenOf(der, certificate);
  if (!tbs || !signatureAlgorithm) throw new Error("DER: a certificate needs tbsCertificate and signatureAlgorithm");
  const fields = childrenOf(der, expectTag(tbs, TAG.sequence, "TBSCertificate"));
  const hasVersion = fields[0]?.tag === TAG.version;
  const versionTlv = hasVersion ? childrenOf(der, fields[0]!)[0] : undefined;
  const [serial, , issuer, validity, subject, spki, ...rest] = hasVersion ? fields.slice(1) : fields;
  if (!serial || !issuer || !validity || !subject || !spki) throw new Error("DER: tbsCertificate is missing fields");
  const [notBefore, notAfter] = childrenOf(der, expectTag(validity, TAG.sequence, "Validity"));
  if (!notBefore || !notAfter) throw new Error("DER: Validity needs two times");
  const [algorithm, publicKey] = childrenOf(der, expectTag(spki, TAG.sequence, "SubjectPublicKeyInfo"));
  if (!algorithm || !publicKey) throw new Error("DER: SubjectPublicKeyInfo needs an algorithm and a key");
  const [algorithmOid, parameters] = childrenOf(der, expectTag(algorithm, TAG.sequence, "AlgorithmIdentifier"));
  const [outerAlgorithmOid] = childrenOf(der, expectTag(signatureAlgorithm, TAG.sequence, "AlgorithmIdentifier"));
  return {
    version: versionTlv ? Number(contentOf(der, expectTag(versionTlv, TAG.integer, "version"))[0] ?? 0) : 0,
    serialNumber: contentOf(der, expectTag(serial, TAG.integer, "serialNumber")),
    signatureAlgorithm: decodeOid(contentOf(der, expectTag(outerAlgorithmOid!, TAG.oid, "signature algorithm"))),
    issuer: decodeName(der, issuer),
    subject: decodeName(der, subject),
    issuerDer: der.subarray(issuer.at, issuer.end),
    subjectDer: der.subarray(subject.at, subject.end),
    notBefore: decodeTime(der, notBefore),
    notAfter: decodeTime(der, notAfter),
    spki: der.subarray(spki.at, spki.end),
    publicKeyAlgorithm: decodeOid(contentOf(der, expectTag(algorithmOid!, TAG.oid, "public key algorithm"))),
    ...(parameters?.tag === TAG.oid ? { publicKeyCurve: decodeOid(contentOf(der, parameters)) } : {}),
    publicKey: contentOf(der, expectTag(publicKey, TAG.bitString, "subjectPublicKey")).subarray(1),
    extensions: decodeExtensions(der, rest.find((field) => field.tag === TAG.extensions)),
  };
}
