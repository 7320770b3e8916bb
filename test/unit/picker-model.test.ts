/** The picker's grouping, search and first choice, without a browser. */
import { describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { groupByCompany, initialChoice, matchesQuery } from "../../extension/ui/picker-model.js";

function cert(id: string, holderName: string, creditCode: string | null, tokenLabel: string): YztCertificate {
  return { id, holderName, creditCode, tokenLabel, tokenSerial: id.split(":")[0]! } as unknown as YztCertificate;
}

const certificates = [
  cert("S3:0101", "北京海淀商贸示例有限公司", "91110105MA02K00029", "OFFICE 02"),
  cert("S1:0101", "北京朝阳科技示例有限公司", "91110105MA02K0001X", "OFFICE 01"),
  cert("S1:0303", "北京朝阳科技示例有限公司", "91110105MA02K0001X", "OFFICE 01"),
  cert("S9:0101", "个体户张三", null, "ＢＪ-YZT"),
];

describe("picker model", () => {
  it("groups certificates by company, companies in Chinese order, each company once", () => {
    const groups = groupByCompany(certificates);
    expect(groups.map((group) => group.company)).toEqual(["北京朝阳科技示例有限公司", "北京海淀商贸示例有限公司", "个体户张三"]);
    expect(groups[0]!.certificates.map((c) => c.id)).toEqual(["S1:0101", "S1:0303"]);
    expect(groups[2]!.creditCode).toBeNull();
  });

  it("finds by part of the company name, the credit code (any case), the key label (full-width too) or the serial", () => {
    const ids = (query: string) => certificates.filter((c) => matchesQuery(c, query)).map((c) => c.id);
    expect(ids("海淀")).toEqual(["S3:0101"]);
    expect(ids("ma02k0001x")).toEqual(["S1:0101", "S1:0303"]);
    expect(ids("bj-yzt")).toEqual(["S9:0101"]);
    expect(ids(" S3 ")).toEqual(["S3:0101"]);
    expect(ids("")).toHaveLength(4);
    expect(ids("上海")).toEqual([]);
  });

  it("starts on the remembered certificate when it is offered, else on the first shown", () => {
    const groups = groupByCompany(certificates);
    expect(initialChoice(groups, "S3:0101")).toBe("S3:0101");
    expect(initialChoice(groups, "gone:0101")).toBe("S1:0101");
    expect(initialChoice([], "S3:0101")).toBeNull();
  });
});
