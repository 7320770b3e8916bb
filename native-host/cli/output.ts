/** Human-readable tables for the CLI. */
import type { TokenInfo, YztCertificate } from "../../protocol/types.js";
import type { DiagnosticCheck } from "../../protocol/messages.js";

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => displayWidth(row[column] ?? ""))));
  return rows.map((row) => row.map((cell, column) => cell + " ".repeat(widths[column]! - displayWidth(cell))).join("  ").trimEnd()).join("\n");
}

/** CJK characters take two terminal columns. */
function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(char) ? 2 : 1;
  return width;
}

export function printTokens(tokens: TokenInfo[]): void {
  if (tokens.length === 0) {
    console.log("未找到证书介质 No token found.");
    return;
  }
  const rows = [["序列号 SERIAL", "名称 LABEL", "在位 PRESENT", "PIN", "剩余次数 RETRIES"]];
  for (const token of tokens) {
    const pin = token.pin.locked ? "locked 已锁" : token.pin.finalTry ? "final try 最后一次" : token.pin.countLow ? "wrong tries 有误" : "ok";
    rows.push([token.serial, token.label, token.present ? "yes" : "no", pin, String(token.pin.retriesLeft ?? "?")]);
  }
  console.log(table(rows));
}

export function printCertificates(certificates: YztCertificate[]): void {
  if (certificates.length === 0) {
    console.log("未找到证书 No certificate found (is the USB key inserted?).");
    return;
  }
  const rows = [["持有者 HOLDER", "信用代码 CREDIT CODE", "用途 PURPOSE", "算法", "剩余天数 DAYS LEFT", "状态 STATUS", "ID"]];
  for (const cert of certificates) {
    rows.push([cert.holderName, cert.creditCode ?? "-", cert.purpose, cert.keyAlgorithm, String(cert.daysLeft), cert.status, cert.id]);
  }
  console.log(table(rows));
}

export function printChecks(checks: DiagnosticCheck[]): void {
  const mark = { ok: "✔", warning: "!", error: "✘" } as const;
  for (const check of checks) console.log(`${mark[check.status]} [${check.id}] ${check.message}`);
}
