/**
 * DN strings as CA enrolment pages pass them (crypto/distinguished-name.ts): separators, escapes, Chinese
 * values, the order kept as written, the string types CAs check, and refusals that name the problem. The DER
 * is read back by OpenSSL and by the certificate parser's own subject record.
 */
import { describe, expect, it } from "vitest";
import { encodeName, nameRecord, parseDistinguishedName, readName } from "../../crypto/distinguished-name.js";
import { readTlv } from "../../protocol/der.js";
import { YztError } from "../../protocol/errors.js";
import { openssl, Scratch } from "./renewal-fixtures.js";

const COMPANY = "北京某某科技有限公司";
const short = (dn: string) => parseDistinguishedName(dn).map(({ shortName, value }) => [shortName, value]);

function refusal(dn: string): string {
  try {
    parseDistinguishedName(dn);
  } catch (error) {
    expect(error).toBeInstanceOf(YztError);
    expect((error as YztError).code).toBe("BAD_REQUEST");
    return (error as YztError).message;
  }
  throw new Error(`"${dn}" was accepted`);
}

/** Tag of each attribute value in a DER Name, in order. */
function valueTags(der: Uint8Array): number[] {
  const tags: number[] = [];
  for (let at = readTlv(der, 0).start; at < der.length; ) {
    const rdn = readTlv(der, at);
    const pair = readTlv(der, rdn.start);
    const type = readTlv(der, pair.start);
    tags.push(readTlv(der, type.end).tag);
    at = rdn.end;
  }
  return tags;
}

describe("parseDistinguishedName", () => {
  it("reads a BJCA-style comma DN with Chinese values, in the string's order", () => {
    expect(short(`CN=张三,O=${COMPANY},C=CN`)).toEqual([["CN", "张三"], ["O", COMPANY], ["C", "CN"]]);
  });

  it("reads OpenSSL's slash form and '; ' separators the same way", () => {
    expect(short(`/C=CN/O=${COMPANY}/CN=张三`)).toEqual([["C", "CN"], ["O", COMPANY], ["CN", "张三"]]);
    expect(short(`C=CN; O=${COMPANY}; CN=张三`)).toEqual([["C", "CN"], ["O", COMPANY], ["CN", "张三"]]);
  });

  it("drops spaces around '=' and separators but keeps them inside values", () => {
    expect(short("  CN = 张 三 ,  OU = 财务 部 ")).toEqual([["CN", "张 三"], ["OU", "财务 部"]]);
  });

  it("takes escaped separators and quoted values literally", () => {
    expect(short("O=Foo\\, Inc.,CN=a\\;b\\\\c")).toEqual([["O", "Foo, Inc."], ["CN", "a;b\\c"]]);
    expect(short('O="Foo, Inc.; Ltd",CN=x')).toEqual([["O", "Foo, Inc.; Ltd"], ["CN", "x"]]);
    expect(short("/O=a\\/b/CN=x,y")).toEqual([["O", "a/b"], ["CN", "x,y"]]);
    expect(short("CN=\\ padded\\ ")).toEqual([["CN", " padded "]]);
  });

  it("knows the usual short names, aliases case-insensitively, and dotted OIDs", () => {
    const parsed = parseDistinguishedName("c=CN,S=北京市,L=海淀区,O=o,OU=ou,CN=cn,E=a@b.cn,emailAddress=c@d.cn,serialNumber=91110108MA01DEMX0U,2.5.4.45=唯一标识,2.5.4.3=again");
    expect(parsed.map((a) => a.shortName)).toEqual(["C", "ST", "L", "O", "OU", "CN", "emailAddress", "emailAddress", "serialNumber", "2.5.4.45", "CN"]);
    expect(parsed.map((a) => a.oid)).toEqual([
      "2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.10", "2.5.4.11", "2.5.4.3", "1.2.840.113549.1.9.1", "1.2.840.113549.1.9.1", "2.5.4.5", "2.5.4.45", "2.5.4.3",
    ]);
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["CN=a,,O=b", "empty attribute at position 2"],
    ["/C=CN/", "empty attribute at position 2"],
    ["CN张三", `"CN张三" has no '='`],
    ["=张三", "no name before '='"],
    ["XYZ=1", 'unknown attribute "XYZ"'],
    ["CN=", "CN has an empty value"],
    ["CN=a\\", "lone backslash"],
    ['CN="open', "unterminated quoted value"],
    ['CN="a"b', "text after a quoted value"],
    ["C=中国", "two-letter country code"],
    ["C=CHN", "two-letter country code"],
    ["serialNumber=身份证", "PrintableString"],
    ["E=张三@例子.cn", "ASCII"],
    ["2.5.4.=x", 'unknown attribute "2.5.4."'],
    [`CN=${"x".repeat(1022)}`, "longer than 1024"],
  ])("refuses %j (%s)", (dn, problem) => {
    expect(refusal(dn)).toContain(problem);
  });
});

describe("encodeName", () => {
  it("writes the RDNs in the string's order with the types CAs expect", () => {
    const der = encodeName(parseDistinguishedName(`C=CN,O=${COMPANY},CN=张三,serialNumber=91110108MA01DEMX0U,E=a@b.cn`));
    expect(valueTags(der)).toEqual([0x13, 0x0c, 0x0c, 0x13, 0x16]); // Printable, UTF8, UTF8, Printable, IA5
    expect(readName(der).map((a) => a.value)).toEqual(["CN", COMPANY, "张三", "91110108MA01DEMX0U", "a@b.cn"]);
    expect(nameRecord(readName(der))).toEqual({ C: "CN", O: COMPANY, CN: "张三", serialNumber: "91110108MA01DEMX0U", emailAddress: "a@b.cn" });
  });

  it("is read by OpenSSL as the same name, first attribute first", () => {
    const scratch = new Scratch();
    try {
      const der = encodeName(parseDistinguishedName(`CN=张三,O=${COMPANY},C=CN`));
      // A bare Name is no file type OpenSSL reads; asn1parse shows the order and the UTF-8 values.
      const printed = openssl(["asn1parse", "-inform", "DER", "-in", scratch.file("name.der", der)]);
      expect(printed.ok).toBe(true);
      const lines = printed.output.split("\n").filter((line) => /OBJECT|STRING/.test(line));
      expect(lines.map((line) => line.replace(/.*:(?=[^:]*$)/, ""))).toEqual(["commonName", "张三", "organizationName", COMPANY, "countryName", "CN"]);
    } finally {
      scratch.remove();
    }
  });

  it("refuses a DER Name with bytes after it", () => {
    const der = encodeName(parseDistinguishedName("CN=x"));
    expect(() => readName(Uint8Array.from([...der, 0]))).toThrow(/bytes after the Name/);
  });
});
