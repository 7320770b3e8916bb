/**
 * X.509 parsing into what a tax-hall login page needs (API.md YztCertificate): holder (company) name,
 * unified social credit code (统一社会信用代码), validity, key usage and purpose. Pure: bytes in, facts out.
 * The certificate is read with the project's DER walker (x509-reader.ts), not an ASN.1 library: listing a
 * hub's keys at the first contact must not wait for one.
 */
import { readTlv } from "../protocol/der.js";
import { YztError } from "../protocol/errors.js";
import { childrenOf, contentOf, decodeOid, readX509, stringValue, type CertificateExtension, type NameAttribute, type X509Fields } from "./x509-reader.js";
import type { ParsedCertificate } from "./certificate-view.js";
import type { KeyAlgorithm, Purpose } from "../protocol/types.js";
import type { CertificateInfo } from "../protocol/messages.js";

export type { ParsedCertificate } from "./certificate-view.js";
export { certificateValidity, EXPIRING_DAYS, toYztCertificate } from "./certificate-view.js";

const NAME_OIDS: Record<string, string> = {
  "2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L",
  "2.5.4.5": "serialNumber", "2.5.4.12": "title", "2.5.4.9": "street", "2.5.4.17": "postalCode",
  "2.5.4.42": "givenName", "2.5.4.4": "surname", "1.2.840.113549.1.9.1": "emailAddress",
  "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
};

const KEY_USAGE_NAMES = [
  "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
  "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
] as const;
const SIGNING_USAGES = new Set(["digitalSignature", "nonRepudiation"]);
const ENCRYPTION_USAGES = new Set(["keyEncipherment", "dataEncipherment", "keyAgreement"]);

const OID = {
  rsa: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  sm2Curve: "1.2.156.10197.1.301",
  sm2WithSm3: "1.2.156.10197.1.501",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  basicConstraints: "2.5.29.19",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  creditCodeGmt0015: "1.2.156.10260.4.1.4",
  creditCodeOld: "1.2.86.11.7.4",
  bjcaUniqueIds: ["1.2.156.112562.2.1.1.1", "2.16.840.1.113732.2"],
} as const;


// ---------- unified social credit code (GB 32100-2015) ----------

const CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const CREDIT_SHAPE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;
const CREDIT_IN_TEXT = /(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])/g;

export function creditCodeCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = CREDIT_ALPHABET.indexOf(first17[i] ?? "?");
    if (value < 0) throw new YztError("BAD_REQUEST", `invalid credit code character "${first17[i] ?? ""}"`);
    sum += value * CREDIT_WEIGHTS[i]!;
  }
  return CREDIT_ALPHABET[(31 - (sum % 31)) % 31]!;
}

export function isCreditCode(text: string): boolean {
  return CREDIT_SHAPE.test(text) && creditCodeCheckChar(text.slice(0, 17)) === text[17];
}

/** Well-formed (shape only) codes inside free text; callers decide whether the check character matters. */
function creditCodeCandidates(text: string): string[] {
  return [...text.toUpperCase().matchAll(CREDIT_IN_TEXT)].map((match) => match[0]);
}

// ---------- extension values ----------

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/**
 * The first element of an extension's value; undefined when it is not DER at all. A malformed extension
 * value reads as absent (no children), as pkijs read it: one bad extension must not hide a certificate.
 */
function valueElement(bytes: Uint8Array): { tag: number; content: Uint8Array; children: () => Array<{ tag: number; content: Uint8Array }> } | undefined {
  try {
    const tlv = readTlv(bytes, 0);
    return {
      tag: tlv.tag,
      content: contentOf(bytes, tlv),
      children: () => {
        try {
          return childrenOf(bytes, tlv).map((child) => ({ tag: child.tag, content: contentOf(bytes, child) }));
        } catch {
          return [];
        }
      },
    };
  } catch {
    return undefined;
  }
}

/** Text of an extension value: any ASN.1 string, possibly wrapped once more in an OCTET STRING. */
function extensionText(extension: CertificateExtension): string | undefined {
  const inner = valueElement(extension.value);
  if (!inner) return undefined;
  const direct = stringValue(inner.tag, inner.content);
  if (direct !== undefined) return direct.trim();
  if (inner.tag === 0x04) {
    const nested = valueElement(inner.content);
    const text = nested ? stringValue(nested.tag, nested.content) : undefined;
    return (text ?? Buffer.from(inner.content).toString("utf8")).trim();
  }
  return undefined;
}

function nameRecord(name: NameAttribute[]): { record: Record<string, string>; dn: string } {
  const record: Record<string, string> = {};
  const parts: string[] = [];
  for (const { type, value } of name) {
    const key = NAME_OIDS[type] ?? type;
    record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`;
    parts.push(`${key}=${value.replace(/([,+"\\<>;])/g, "\\$1")}`);
  }
  return { record, dn: parts.reverse().join(", ") };
}

function keyUsageOf(extension: CertificateExtension | undefined): string[] {
  const parsed = extension ? valueElement(extension.value) : undefined;
  if (parsed?.tag !== 0x03) return [];
  const bytes = parsed.content.subarray(1);
  return KEY_USAGE_NAMES.filter((_, bit) => ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0);
}

/** BasicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
function isCaOf(extension: CertificateExtension | undefined): boolean {
  const parsed = extension ? valueElement(extension.value) : undefined;
  const first = parsed?.tag === 0x30 ? parsed.children()[0] : undefined;
  return first?.tag === 0x01 && first.content[0] !== 0;
}

/** ExtKeyUsageSyntax: SEQUENCE OF KeyPurposeId (OIDs). */
function extendedKeyUsageOf(extension: CertificateExtension | undefined): string[] {
  const parsed = extension ? valueElement(extension.value) : undefined;
  if (parsed?.tag !== 0x30) return [];
  try {
    return parsed.children().filter((child) => child.tag === 0x06).map((child) => decodeOid(child.content));
  } catch {
    return [];
  }
}

function purposeOf(keyUsage: string[]): Purpose {
  const signs = keyUsage.some((usage) => SIGNING_USAGES.has(usage));
  const encrypts = keyUsage.some((usage) => ENCRYPTION_USAGES.has(usage));
  if (signs && !encrypts) return "sign";
  if (encrypts && !signs) return "encrypt";
  return "both";
}

function keyAlgorithmOf(fields: X509Fields): { keyAlgorithm: KeyAlgorithm; ecCurve?: string; publicKeyPoint?: Uint8Array } {
  if (fields.publicKeyAlgorithm === OID.ecPublicKey) {
    const curve = fields.publicKeyCurve;
    const sm2 = curve === OID.sm2Curve || fields.signatureAlgorithm === OID.sm2WithSm3;
    return { keyAlgorithm: sm2 ? "SM2" : "EC", publicKeyPoint: new Uint8Array(fields.publicKey), ...(curve ? { ecCurve: curve } : {}) };
  }
  if (fields.publicKeyAlgorithm === OID.rsa) return { keyAlgorithm: "RSA" };
  throw new YztError("BAD_REQUEST", `certificate: unsupported public key algorithm ${fields.publicKeyAlgorithm}`);
}

function serialHex(fields: X509Fields): string {
  let bytes = fields.serialNumber;
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) !== 0) bytes = bytes.subarray(1);
  return toHex(bytes).toLowerCase();
}

/** SubjectKeyIdentifier: an OCTET STRING; AuthorityKeyIdentifier: SEQUENCE { [0] keyIdentifier OPTIONAL, … }. */
function identifierHex(extension: CertificateExtension | undefined, authority: boolean): string | undefined {
  const parsed = extension ? valueElement(extension.value) : undefined;
  if (!parsed) return undefined;
  if (!authority) return parsed.tag === 0x04 ? toHex(parsed.content) : undefined;
  if (parsed.tag !== 0x30) return undefined;
  const keyIdentifier = parsed.children().find((child) => child.tag === 0x80);
  return keyIdentifier ? toHex(keyIdentifier.content) : undefined;
}

/**
 * The credit code, from the most to the least authoritative place: dedicated extensions (a well-formed
 * code is accepted even with a wrong check character: issuers' data is not always clean), subject
 * serialNumber, then codes embedded in OU/CN text or the BJCA unique id (check character required).
 */
function findCreditCode(extensions: CertificateExtension[], subject: Record<string, string>, uniqueId: string | undefined): string | undefined {
  for (const oid of [OID.creditCodeGmt0015, OID.creditCodeOld]) {
    const extension = extensions.find((e) => e.oid === oid);
    const text = extension ? extensionText(extension) : undefined;
    const candidates = text ? creditCodeCandidates(text) : [];
    const best = candidates.find(isCreditCode) ?? candidates[0];
    if (best) return best;
  }
  const serial = subject.serialNumber ? creditCodeCandidates(subject.serialNumber) : [];
  const fromSerial = serial.find(isCreditCode) ?? (serial.length === 1 && subject.serialNumber!.trim().length === 18 ? serial[0] : undefined);
  if (fromSerial) return fromSerial;
  for (const text of [subject.OU, subject.CN, uniqueId]) {
    const found = text ? creditCodeCandidates(text).find(isCreditCode) : undefined;
    if (found) return found;
  }
  return undefined;
}

/** DER → the certificate's fields; anything else is BAD_REQUEST. */
function decodeCertificate(der: Uint8Array): X509Fields {
  try {
    return readX509(der);
  } catch (error) {
    throw new YztError("BAD_REQUEST", `certificate: not a DER X.509 certificate (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  return parsedFrom(decodeCertificate(der), der);
}

function parsedFrom(fields: X509Fields, der: Uint8Array): ParsedCertificate {
  const { extensions } = fields;
  const byOid = (oid: string) => extensions.find((e) => e.oid === oid);
  const subject = nameRecord(fields.subject);
  const issuer = nameRecord(fields.issuer);
  const keyUsage = keyUsageOf(byOid(OID.keyUsage));
  const uniqueIdExtension = extensions.find((e) => (OID.bjcaUniqueIds as readonly string[]).includes(e.oid));
  const uniqueId = uniqueIdExtension ? extensionText(uniqueIdExtension) : undefined;
  const creditCode = findCreditCode(extensions, subject.record, uniqueId);
  const ski = identifierHex(byOid(OID.subjectKeyIdentifier), false);
  const aki = identifierHex(byOid(OID.authorityKeyIdentifier), true);
  return {
    der: new Uint8Array(der),
    subject: subject.record,
    issuer: issuer.record,
    subjectDn: subject.dn,
    issuerDn: issuer.dn,
    holderName: subject.record.O ?? subject.record.CN ?? Object.values(subject.record)[0] ?? "",
    ...(creditCode ? { creditCode } : {}),
    ...(uniqueId ? { uniqueId } : {}),
    serialNumber: serialHex(fields),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    keyUsage,
    extendedKeyUsage: extendedKeyUsageOf(byOid(OID.extKeyUsage)),
    purpose: purposeOf(keyUsage),
    ...keyAlgorithmOf(fields),
    isCa: isCaOf(byOid(OID.basicConstraints)),
    ...(ski ? { subjectKeyIdentifier: ski } : {}),
    ...(aki ? { authorityKeyIdentifier: aki } : {}),
  };
}

const SIGNATURE_ALGORITHM_NAMES: Record<string, string> = {
  "1.2.840.113549.1.1.5": "sha1RSA",
  "1.2.840.113549.1.1.11": "sha256RSA",
  "1.2.840.113549.1.1.12": "sha384RSA",
  "1.2.840.113549.1.1.13": "sha512RSA",
  "1.2.840.10045.4.3.2": "sha256ECDSA",
  "1.2.840.10045.4.3.3": "sha384ECDSA",
  [OID.sm2WithSm3]: "SM3withSM2",
};

/** Everything `certificateInfo` reports, including what legacy (BJCA SOF_GetCertInfo[ByOid]) pages ask for. */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const fields = decodeCertificate(der);
  const parsed = parsedFrom(fields, der);
  const extensionTexts: Record<string, string> = {};
  for (const extension of fields.extensions) {
    const text = extensionText(extension);
    if (text !== undefined) extensionTexts[extension.oid] = text;
  }
  const oid = fields.signatureAlgorithm;
  return {
    version: fields.version + 1,
    serialNumber: parsed.serialNumber,
    signatureAlgorithm: SIGNATURE_ALGORITHM_NAMES[oid] ?? oid,
    notBefore: parsed.notBefore.toISOString(),
    notAfter: parsed.notAfter.toISOString(),
    subject: parsed.subject,
    issuer: parsed.issuer,
    subjectDn: parsed.subjectDn,
    issuerDn: parsed.issuerDn,
    holderName: parsed.holderName,
    keyAlgorithm: parsed.keyAlgorithm,
    extensionTexts,
    publicKey: Buffer.from(fields.spki).toString("base64"),
    ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}),
    ...(parsed.uniqueId ? { uniqueId: parsed.uniqueId } : {}),
  };
}
