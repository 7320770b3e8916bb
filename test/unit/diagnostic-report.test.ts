/** The advice and the 证书检测 report shared by the CLI and the popup. */
import { describe, expect, it } from "vitest";
import { adviceFor, certificateReport, unrepairable } from "../../protocol/diagnostic-report.js";
import type { DiagnoseResult, DiagnosticCheck } from "../../protocol/messages.js";

const check = (id: string, status: DiagnosticCheck["status"], detail?: Record<string, unknown>): DiagnosticCheck => ({ id, status, message: `${id} ${status}`, ...(detail ? { detail } : {}) });

describe("diagnostic report", () => {
  it("advises on problems only, and tells repairable ones from the rest", () => {
    expect(adviceFor(check("chain", "ok"))).toBeNull();
    expect(adviceFor(check("identity", "warning"))).toContain("您未开通网上审批业务");
    expect(adviceFor(check("pin", "error"))).toContain("【证书解锁】");
    expect(adviceFor(check("something-new", "error"))).toContain("contact support");
    const left = unrepairable([check("registration", "error"), check("config", "warning"), check("token", "error"), check("host", "ok")]);
    expect(left.map((c) => c.id)).toEqual(["token"]);
  });

  it("groups the certificate checks by certificate, with advice under each problem and a verdict", () => {
    const a = { certificateId: "S1:0101", holderName: "北京甲公司" };
    const b = { certificateId: "S2:0101", holderName: "北京乙公司" };
    const result: DiagnoseResult = {
      host: "9.9.9",
      checks: [check("host", "ok"), check("pin", "error", { tokenSerial: "S1" }), check("certificate", "ok", a), check("chain", "ok", a), check("certificate", "error", b), check("identity", "warning", b)],
    };
    const report = certificateReport(result, new Date("2026-11-25T00:00:00Z"));
    expect(report).toContain("本地服务 host: 9.9.9");
    expect(report).toContain("[1] 北京甲公司 · S1:0101\n    ✔ 有效期 validity: certificate ok\n    ✔ 证书链 chain: chain ok\n");
    expect(report).toContain("[2] 北京乙公司 · S2:0101\n    ✘ 有效期 validity: certificate error\n      → 证书已过期或即将过期");
    expect(report).toContain("! 企业标识 identity: identity warning");
    // The PIN check belongs to the environment check, not to a certificate.
    expect(report).not.toContain("pin error");
    expect(report.trimEnd().split("\n").at(-1)).toBe("结论 verdict: 2 个问题 / 2 problem(s), see → above");
    expect(certificateReport({ host: "1", checks: [] }, new Date())).toContain("未找到证书");
  });
});
