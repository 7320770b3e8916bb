/**
 * X.509 parsing into what a tax-hall login page needs (API.md YztCertificate): holder (company) name,
 * unified social credit code (统一社会信用代码), validity, key usage and purpose. Pure: bytes in, facts out.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { YztError } from "../../protocol/errors.js";
import type { ParsedCertificate } from "./certificate-view.js";
import type { KeyAlgorithm, Purpose } from "../../protocol/types.js";
import type { CertificateInfo } from "../../protocol/messages.js";

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

// ---------- ASN.1 helpers ----------

function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex");
}

function asString(value: unknown): string | undefined {
  const block = (value as { valueBlock?: { value?: unknown } } | null)?.valueBlock;
  return typeof block?.value === "string" ? block.value : undefined;
}

/** Text of an extension value: any ASN.1 string, possibly wrapped once more in an OCTET STRING. */
function extensionText(extension: pkijs.Extension): string | undefined {
  const inner = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView);
  if (inner.offset === -1) return undefined;
  const direct = asString(inner.result);
  if (direct !== undefined) return direct.trim();
  if (inner.result instanceof asn1js.OctetString) {
    const nested = asn1js.fromBER(inner.result.valueBlock.valueHexView);
    const text = nested.offset === -1 ? undefined : asString(nested.result);
    return (text ?? Buffer.from(inner.result.valueBlock.valueHexView).toString("utf8")).trim();
  }
  return undefined;
}

function nameRecord(name: pkijs.RelativeDistinguishedNames): { record: Record<string, string>; dn: string } {
  const record: Record<string, string> = {};
  const parts: string[] = [];
  for (const pair of name.typesAndValues) {
    const key = NAME_OIDS[pair.type] ?? pair.type;
    const value = asString(pair.value) ?? toHex(pair.value.valueBlock.valueHexView ?? new Uint8Array());
    record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`;
    parts.push(`${key}=${value.replace(/([,+"\\<>;])/g, "\\$1")}`);
  }
  return { record, dn: parts.reverse().join(", ") };
}

function keyUsageOf(extension: pkijs.Extension | undefined): string[] {
  if (!extension) return [];
  const parsed = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView).result;
  if (!(parsed instanceof asn1js.BitString)) return [];
  const bytes = parsed.valueBlock.valueHexView;
  return KEY_USAGE_NAMES.filter((_, bit) => ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0);
}

function purposeOf(keyUsage: string[]): Purpose {
  const signs = keyUsage.some((usage) => SIGNING_USAGES.has(usage));
  const encrypts = keyUsage.some((usage) => ENCRYPTION_USAGES.has(usage));
  if (signs && !encrypts) return "sign";
  if (encrypts && !signs) return "encrypt";
  return "both";
}

function keyAlgorithmOf(certificate: pkijs.Certificate): { keyAlgorithm: KeyAlgorithm; ecCurve?: string; publicKeyPoint?: Uint8Array } {
  const spki = certificate.subjectPublicKeyInfo;
  const algorithm = spki.algorithm;
  if (algorithm.algorithmId === OID.ecPublicKey) {
    const params = algorithm.algorithmParams;
    const curve = params instanceof asn1js.ObjectIdentifier ? params.valueBlock.toString() : undefined;
    const sm2 = curve === OID.sm2Curve || certificate.signatureAlgorithm.algorithmId === OID.sm2WithSm3;
    const publicKeyPoint = new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView);
    return { keyAlgorithm: sm2 ? "SM2" : "EC", publicKeyPoint, ...(curve ? { ecCurve: curve } : {}) };
  }
  if (algorithm.algorithmId === OID.rsa) return { keyAlgorithm: "RSA" };
  throw new YztError("BAD_REQUEST", `certificate: unsupported public key algorithm ${algorithm.algorithmId}`);
}

function serialHex(certificate: pkijs.Certificate): string {
  let bytes = certificate.serialNumber.valueBlock.valueHexView;
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) !== 0) bytes = bytes.subarray(1);
  return toHex(bytes).toLowerCase();
}

function identifierHex(extension: pkijs.Extension | undefined, authority: boolean): string | undefined {
  if (!extension) return undefined;
  const parsed = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1) return undefined;
  if (!authority) return parsed.result instanceof asn1js.OctetString ? toHex(parsed.result.valueBlock.valueHexView) : undefined;
  try {
    const aki = new pkijs.AuthorityKeyIdentifier({ schema: parsed.result });
    return aki.keyIdentifier ? toHex(aki.keyIdentifier.valueBlock.valueHexView) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The credit code, from the most to the least authoritative place: dedicated extensions (a well-formed
 * code is accepted even with a wrong check character: issuers' data is not always clean), subject
 * serialNumber, then codes embedded in OU/CN text or the BJCA unique id (check character required).
 */
function findCreditCode(extensions: pkijs.Extension[], subject: Record<string, string>, uniqueId: string | undefined): string | undefined {
  for (const oid of [OID.creditCodeGmt0015, OID.creditCodeOld]) {
    const extension = extensions.find((e) => e.extnID === oid);
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

/** DER → pkijs certificate; anything else is BAD_REQUEST. */
function decodeCertificate(der: Uint8Array): pkijs.Certificate {
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1) throw new Error(asn.result.error);
    return new pkijs.Certificate({ schema: asn.result });
  } catch (error) {
    throw new YztError("BAD_REQUEST", `certificate: not a DER X.509 certificate (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  return parsedFrom(decodeCertificate(der), der);
}

function parsedFrom(certificate: pkijs.Certificate, der: Uint8Array): ParsedCertificate {
  const extensions = certificate.extensions ?? [];
  const byOid = (oid: string) => extensions.find((e) => e.extnID === oid);
  const subject = nameRecord(certificate.subject);
  const issuer = nameRecord(certificate.issuer);
  const keyUsage = keyUsageOf(byOid(OID.keyUsage));
  const uniqueIdExtension = extensions.find((e) => (OID.bjcaUniqueIds as readonly string[]).includes(e.extnID));
  const uniqueId = uniqueIdExtension ? extensionText(uniqueIdExtension) : undefined;
  const creditCode = findCreditCode(extensions, subject.record, uniqueId);
  const basicConstraints = byOid(OID.basicConstraints)?.parsedValue as pkijs.BasicConstraints | undefined;
  const extendedKeyUsage = (byOid(OID.extKeyUsage)?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
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
    serialNumber: serialHex(certificate),
    notBefore: certificate.notBefore.value,
    notAfter: certificate.notAfter.value,
    keyUsage,
    extendedKeyUsage,
    purpose: purposeOf(keyUsage),
    ...keyAlgorithmOf(certificate),
    isCa: basicConstraints?.cA === true,
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
  const certificate = decodeCertificate(der);
  const parsed = parsedFrom(certificate, der);
  const extensionTexts: Record<string, string> = {};
  for (const extension of certificate.extensions ?? []) {
    const text = extensionText(extension);
    if (text !== undefined) extensionTexts[extension.extnID] = text;
  }
  const oid = certificate.signatureAlgorithm.algorithmId;
  return {
    version: certificate.version + 1,
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
    publicKey: Buffer.from(certificate.subjectPublicKeyInfo.toSchema().toBER(false)).toString("base64"),
    ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}),
    ...(parsed.uniqueId ? { uniqueId: parsed.uniqueId } : {}),
  };
}
