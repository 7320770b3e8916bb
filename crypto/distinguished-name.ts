/**
 * Distinguished names as CA enrolment pages pass them ("CN=张三,O=北京某某科技有限公司,C=CN", OpenSSL's
 * "/C=CN/O=…/CN=…", "; "-separated) ⇄ the DER Name of requests and certificates.
 *
 * Order: the string's order is the DER order. The first attribute written becomes the first RDN of the
 * RDNSequence, whichever separator is used; nothing is reversed (unlike RFC 4514 strings, which list the last
 * RDN first). Enrolment pages write the DN the way their CA wants it encoded, and a CA re-reads the request's
 * subject bytes as they are, so keeping the order as given is the one choice that never surprises either end.
 * One attribute per RDN: '+' (multi-valued RDNs) is an ordinary character here.
 *
 * String types: UTF8String (GM/T 0015 and RFC 5280 for names that may be Chinese), except where the
 * attribute's definition fixes a type CAs check: C and serialNumber PrintableString (X.520), emailAddress
 * and DC IA5String (PKCS#9, RFC 4519).
 */
import { derElement, expectTag, readTlv } from "../protocol/der.js";
import { badRequest } from "../protocol/errors.js";
import { derOid, isDottedOid } from "./der-writer.js";
import { childrenOf, contentOf, decodeOid, stringValue } from "./x509-reader.js";

export interface DistinguishedNameAttribute {
  oid: string;
  /** The table's name (the keys of YztCertificate.subject), or the dotted OID for attributes it lacks. */
  shortName: string;
  value: string;
}

type StringType = "utf8" | "printable" | "ia5";

interface AttributeType {
  shortName: string;
  oid: string;
  /** Other spellings pages use (matched case-insensitively, like the short name). */
  aliases?: string[];
  string?: StringType;
}

/** Short names are those certificate.ts reports in YztCertificate.subject, so both read the same keys. */
const ATTRIBUTE_TYPES: AttributeType[] = [
  { shortName: "C", oid: "2.5.4.6", string: "printable" },
  { shortName: "ST", oid: "2.5.4.8", aliases: ["S"] },
  { shortName: "L", oid: "2.5.4.7" },
  { shortName: "O", oid: "2.5.4.10" },
  { shortName: "OU", oid: "2.5.4.11" },
  { shortName: "CN", oid: "2.5.4.3" },
  { shortName: "emailAddress", oid: "1.2.840.113549.1.9.1", aliases: ["E", "EMAIL"], string: "ia5" },
  { shortName: "serialNumber", oid: "2.5.4.5", string: "printable" },
  { shortName: "title", oid: "2.5.4.12", aliases: ["T"] },
  { shortName: "street", oid: "2.5.4.9" },
  { shortName: "postalCode", oid: "2.5.4.17" },
  { shortName: "givenName", oid: "2.5.4.42", aliases: ["G", "GN"] },
  { shortName: "surname", oid: "2.5.4.4" },
  { shortName: "DC", oid: "0.9.2342.19200300.100.1.25", string: "ia5" },
  { shortName: "UID", oid: "0.9.2342.19200300.100.1.1" },
];

const BY_NAME = new Map(ATTRIBUTE_TYPES.flatMap((type) => [type.shortName, ...(type.aliases ?? [])].map((name) => [name.toUpperCase(), type] as const)));
const BY_OID = new Map(ATTRIBUTE_TYPES.map((type) => [type.oid, type]));

export const MAX_DN_CHARACTERS = 1024;

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const IA5 = /^[\x00-\x7f]*$/;

const fail = (problem: string) => badRequest(`DN: ${problem}`);

/** One character of a value, and whether it was escaped or quoted (then it is never trimmed or a separator). */
interface ValueChar {
  char: string;
  literal: boolean;
}

interface Component {
  type: string;
  sawEquals: boolean;
  value: ValueChar[];
  quote: "none" | "open" | "closed";
}

const newComponent = (): Component => ({ type: "", sawEquals: false, value: [], quote: "none" });
const isBlank = (chars: ValueChar[]) => chars.every((c) => !c.literal && /\s/.test(c.char));

function trimmedValue(chars: ValueChar[]): string {
  let start = 0;
  let end = chars.length;
  while (start < end && !chars[start]!.literal && /\s/.test(chars[start]!.char)) start++;
  while (end > start && !chars[end - 1]!.literal && /\s/.test(chars[end - 1]!.char)) end--;
  return chars.slice(start, end).map((c) => c.char).join("");
}

function attributeType(name: string): AttributeType {
  if (isDottedOid(name)) return BY_OID.get(name) ?? { shortName: name, oid: name };
  const known = BY_NAME.get(name.toUpperCase());
  if (!known) throw fail(`unknown attribute "${name}" (use C, ST, L, O, OU, CN, E, serialNumber… or a dotted OID such as 2.5.4.45)`);
  return known;
}

function checkValue(type: AttributeType, value: string): void {
  if (value === "") throw fail(`${type.shortName} has an empty value`);
  if (type.shortName === "C" && !/^[A-Za-z]{2}$/.test(value)) throw fail(`C must be a two-letter country code, got "${value}"`);
  if (type.string === "printable" && !PRINTABLE.test(value)) throw fail(`${type.shortName} allows only PrintableString characters (Latin letters, digits, space and '()+,-./:=?)`);
  if (type.string === "ia5" && !IA5.test(value)) throw fail(`${type.shortName} allows only ASCII characters`);
}

function finish(component: Component): DistinguishedNameAttribute {
  const typeName = component.type.trim();
  if (!component.sawEquals) throw fail(`"${typeName}" has no '='`);
  if (typeName === "") throw fail("an attribute has no name before '='");
  if (component.quote === "open") throw fail(`${typeName}: unterminated quoted value`);
  const type = attributeType(typeName);
  const value = trimmedValue(component.value);
  checkValue(type, value);
  return { oid: type.oid, shortName: type.shortName, value };
}

/**
 * Parses a DN string into attributes in the string's (= the DER's) order. Separators: ',' and ';' (spaces
 * around them and around '=' are dropped), or '/' when the string starts with '/'. A backslash takes the next
 * character literally ("\\," "\\/" "\\\\"); a value may be written in double quotes to keep separators in it.
 */
export function parseDistinguishedName(dn: string): DistinguishedNameAttribute[] {
  if (dn.length > MAX_DN_CHARACTERS) throw fail(`longer than ${MAX_DN_CHARACTERS} characters`);
  // Only leading blanks go before scanning: a trailing one may be escaped ("CN=a\\ "), and value trimming drops the rest.
  const text = dn.trimStart();
  if (text === "") throw fail("empty");
  const slashForm = text.startsWith("/");
  const separators = slashForm ? "/" : ",;";
  const chars = Array.from(slashForm ? text.slice(1) : text);
  const components: Component[] = [newComponent()];
  for (let i = 0; i < chars.length; i++) {
    const current = components[components.length - 1]!;
    const char = chars[i]!;
    const target = (c: ValueChar) => (current.sawEquals ? current.value.push(c) : (current.type += c.char));
    if (char === "\\") {
      const next = chars[++i];
      if (next === undefined) throw fail("ends with a lone backslash");
      target({ char: next, literal: true });
    } else if (current.quote === "open") {
      if (char === '"') current.quote = "closed";
      else target({ char, literal: true });
    } else if (separators.includes(char)) {
      components.push(newComponent());
    } else if (current.quote === "closed" && !/\s/.test(char)) {
      throw fail(`${current.type.trim()}: text after a quoted value`);
    } else if (char === '"' && current.sawEquals && isBlank(current.value)) {
      current.value = [];
      current.quote = "open";
    } else if (char === "=" && !current.sawEquals) {
      current.sawEquals = true;
    } else {
      target({ char, literal: false });
    }
  }
  return components.map((component, index) => {
    if (!component.sawEquals && component.type.trim() === "") throw fail(`empty attribute at position ${index + 1}`);
    return finish(component);
  });
}

function stringDer(oid: string, value: string): Uint8Array {
  const type = BY_OID.get(oid)?.string ?? "utf8";
  const tag = type === "printable" ? 0x13 : type === "ia5" ? 0x16 : 0x0c;
  return derElement(tag, new TextEncoder().encode(value));
}

/** Name ::= SEQUENCE OF RelativeDistinguishedName, one AttributeTypeAndValue per RDN, in the given order. */
export function encodeName(attributes: DistinguishedNameAttribute[]): Uint8Array {
  if (attributes.length === 0) throw fail("empty");
  for (const attribute of attributes) checkValue(BY_OID.get(attribute.oid) ?? { shortName: attribute.shortName, oid: attribute.oid }, attribute.value);
  return derElement(0x30, ...attributes.map(({ oid, value }) => derElement(0x31, derElement(0x30, derOid(oid), stringDer(oid, value)))));
}

/** A DER Name → its attributes in order; throws badRequest naming what is malformed. */
export function readName(der: Uint8Array): DistinguishedNameAttribute[] {
  try {
    const name = expectTag(readTlv(der, 0), 0x30, "Name");
    if (name.end !== der.length) throw new Error("DER: bytes after the Name");
    return childrenOf(der, name).flatMap((rdn) => childrenOf(der, expectTag(rdn, 0x31, "RelativeDistinguishedName")).map((pair) => {
      const [type, value, extra] = childrenOf(der, expectTag(pair, 0x30, "AttributeTypeAndValue"));
      if (!type || !value || extra) throw new Error("DER: an AttributeTypeAndValue is a type and one value");
      const oid = decodeOid(contentOf(der, expectTag(type, 0x06, "attribute type")));
      const bytes = contentOf(der, value);
      return { oid, shortName: BY_OID.get(oid)?.shortName ?? oid, value: stringValue(value.tag, bytes) ?? Buffer.from(bytes).toString("hex") };
    }));
  } catch (error) {
    throw fail(`not a DER Name (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The short-name record of YztCertificate.subject: repeated attributes (two OUs) joined with ", ". */
export function nameRecord(attributes: DistinguishedNameAttribute[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const { shortName, value } of attributes) record[shortName] = record[shortName] === undefined ? value : `${record[shortName]}, ${value}`;
  return record;
}

/** A subject given as a DN string or as DER Name bytes (a request's subjectDer) → the DER Name. */
export function subjectNameDer(subject: string | Uint8Array): Uint8Array {
  if (typeof subject === "string") return encodeName(parseDistinguishedName(subject));
  if (readName(subject).length === 0) throw fail("empty");
  return new Uint8Array(subject);
}
