/**
 * What to tell a user about the environment check, the same in the `yzt` CLI and the 证书助手 popup:
 * the advice for each problem (and whether "全部修复" can repair it), and the certificate check report
 * (证书检测) in plain text, Chinese then English, to copy to the help desk.
 */
import type { DiagnoseResult, DiagnosticCheck } from "./messages.js";

/** Problems "全部修复" (doctor --fix) repairs: the browser registration and the config file. */
export const REPAIRABLE_CHECKS: ReadonlySet<string> = new Set(["registration", "config"]);

const ADVICE: Record<string, string> = {
  registration: "运行“全部修复”重新注册本地服务 / run 全部修复 (yzt doctor --fix) to register the host again",
  config: "运行“全部修复”整理配置文件 / run 全部修复 to clean the config file",
  browser: "按该项提示为这个浏览器注册本地服务，然后重新启动浏览器 / register the host for this browser as shown, then restart it",
  binding: "本安装缺少访问证书驱动的组件（PKCS#11：pkcs11js；SKF：koffi）：请下载正式发布的安装程序重新安装 / this installation lacks a key-library binding (PKCS#11: pkcs11js; SKF: koffi): reinstall from the released installer",
  module: "请安装证书驱动（一证通证书应用环境）/ install the key's driver",
  driver: "证书驱动（厂商的密钥库）崩溃或无响应，已单独停用，其他 USB Key 不受影响：请到该 Key 的厂商处更新驱动，然后点“全部修复”重试 / the key's vendor library crashed or hung and was set aside (other keys keep working): update the vendor's driver, then run 全部修复 (yzt doctor --retry) to try it again",
  usbKey: "已识别插入的 USB Key，但未安装其驱动：按提示安装驱动后点“全部修复” / the inserted key's driver is missing: install it as shown, then run 全部修复",
  token: "请插入一证通 USB Key / insert the USB key",
  pin: "PIN 已锁定或输错过：登录一证通服务平台选择【证书解锁】，或到一证通服务网点办理；客服热线 400-700-1900 / unlock on the 一证通 service platform (证书解锁) or at a service point; hotline 400-700-1900",
  certificate: "证书已过期或即将过期：登录一证通服务平台选择【证书更新】/ renew on the 一证通 service platform (证书更新)",
  chain: "找不到签发该证书的 CA 证书：请从网站或证书颁发机构获取 CA 证书，加入配置 caCertificates / get the issuing CA certificates from the site or issuer (config caCertificates)",
  keyUsage: "证书用途不符，需到一证通服务网点重新签发 / the certificate must be reissued at a service point",
  identity: "证书中缺少统一社会信用代码或唯一标识，税务网站会提示“您未开通网上审批业务”：请到一证通服务网点办理证书信息绑定 / the tax hall cannot link this certificate to the company: have it bound at a 一证通 service point",
};

/** The advice for a check that is not ok; null when it is ok. */
export function adviceFor(check: DiagnosticCheck): string | null {
  if (check.status === "ok") return null;
  return ADVICE[check.id] ?? "请联系技术支持 / contact support";
}

/** Problems left that "全部修复" cannot repair: each needs the user, the issuer or a service point. */
export function unrepairable(checks: DiagnosticCheck[]): DiagnosticCheck[] {
  return checks.filter((check) => check.status !== "ok" && !REPAIRABLE_CHECKS.has(check.id));
}

const CERTIFICATE_CHECKS: Record<string, string> = { certificate: "有效期 validity", chain: "证书链 chain", keyUsage: "密钥用法 key usage", identity: "企业标识 identity" };
const MARK = { ok: "✔", warning: "!", error: "✘" } as const;

/** 证书检测 report: every certificate with its validity, chain, key usage and identity, and a verdict. */
export function certificateReport(result: DiagnoseResult, now: Date): string {
  const byCertificate = new Map<string, DiagnosticCheck[]>();
  for (const check of result.checks) {
    const id = check.detail?.certificateId;
    if (typeof id !== "string" || !(check.id in CERTIFICATE_CHECKS)) continue;
    byCertificate.set(id, [...(byCertificate.get(id) ?? []), check]);
  }
  const lines = ["yzt-bridge 证书检测报告 / certificate check report", `时间 time: ${now.toISOString()}`, `本地服务 host: ${result.host}`, ""];
  if (byCertificate.size === 0) lines.push("未找到证书 / no certificate found: 请插入一证通 USB Key / insert the USB key", "");
  let problems = 0;
  [...byCertificate].forEach(([id, checks], index) => {
    const holder = checks.find((check) => check.id === "certificate")?.detail?.holderName;
    lines.push(`[${index + 1}] ${typeof holder === "string" ? holder : ""} · ${id}`);
    for (const check of checks) {
      lines.push(`    ${MARK[check.status]} ${CERTIFICATE_CHECKS[check.id]}: ${check.message}`);
      const advice = adviceFor(check);
      if (advice) {
        problems++;
        lines.push(`      → ${advice}`);
      }
    }
    lines.push("");
  });
  lines.push(problems === 0 ? "结论 verdict: 全部正常 / all certificates are fine" : `结论 verdict: ${problems} 个问题 / ${problems} problem(s), see → above`);
  return lines.join("\n") + "\n";
}
