/** The picker's grouping, search and first choice, without a browser. */
import { describe, expect, it } from "vitest";
import type { YztCertificate } from "../../protocol/types.js";
import { daysText, groupByCompany, initialChoice, matchesQuery, selectable } from "../../extension/ui/picker-model.js";

function cert(id: string, holderName: string, creditCode: string | null, tokenLabel: string, status = "valid", daysLeft = 300): YztCertificate {
  return { id, holderName, creditCode, tokenLabel, tokenSerial: id.split(":")[0]!, status, daysLeft } as unknown as YztCertificate;
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

  describe("with expired certificates", () => {
    const mixed = [
      cert("E1:0101", "北京朝阳科技示例有限公司", "91110105MA02K0001X", "OFFICE 01", "expired", -36),
      cert("S2:0101", "北京朝阳科技示例有限公司", "91110105MA02K0001X", "OFFICE 03", "expiring", 9),
      cert("E2:0101", "北京东城过期示例有限公司", "91110101MA02K00035", "OFFICE 04", "expired", -2),
      cert("S3:0101", "北京海淀商贸示例有限公司", "91110105MA02K00029", "OFFICE 02"),
    ];

    it("lists usable certificates first, the last chosen before the rest, and expired ones last, in their group and among groups", () => {
      const order = (remembered: string | null) => groupByCompany(mixed, remembered).map((group) => [group.company, group.certificates.map((c) => c.id)]);
      expect(order(null)).toEqual([
        ["北京朝阳科技示例有限公司", ["S2:0101", "E1:0101"]],
        ["北京海淀商贸示例有限公司", ["S3:0101"]],
        ["北京东城过期示例有限公司", ["E2:0101"]],
      ]);
      expect(order("S3:0101")[0]).toEqual(["北京海淀商贸示例有限公司", ["S3:0101"]]);
      // An expired certificate chosen last time is not put first.
      expect(order("E2:0101").map(([company]) => company)).toEqual(["北京朝阳科技示例有限公司", "北京海淀商贸示例有限公司", "北京东城过期示例有限公司"]);
    });

    it("never starts on an expired certificate, even the remembered one, and offers none when all are expired", () => {
      expect(initialChoice(groupByCompany(mixed), "E1:0101")).toBe("S2:0101");
      expect(initialChoice(groupByCompany(mixed, "S3:0101"), "S3:0101")).toBe("S3:0101");
      expect(initialChoice(groupByCompany(mixed.filter((c) => c.status === "expired")), null)).toBeNull();
      expect(mixed.map((c) => selectable(c))).toEqual([false, true, false, true]);
      // Not yet valid cannot sign either; an expired encryption certificate still opens what was sealed to it.
      expect(selectable(cert("N1:0101", "x", null, "y", "notYetValid", 400))).toBe(false);
      expect(mixed.map((c) => selectable(c, "encrypt"))).toEqual([true, true, true, true]);
      expect(initialChoice(groupByCompany(mixed, "E1:0101", "encrypt"), "E1:0101", "encrypt")).toBe("E1:0101");
    });

    it("says how long ago a certificate expired, never a negative number of days left", () => {
      const t = (key: string, value: string) => `${key}(${value})`;
      expect(daysText(mixed[0]!, t)).toBe("expiredDays(36)");
      expect(daysText(mixed[1]!, t)).toBe("daysLeft(9)");
    });
  });
});
