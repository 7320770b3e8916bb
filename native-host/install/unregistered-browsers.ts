/**
 * Browsers `yzt doctor` finds installed but cannot register in the scope it checks: known per user only
 * (奇安信可信浏览器 and 360安全浏览器 on Linux: their system directory is not published; `yzt install` as the user
 * registers their profile) or per machine only (统信 UOS 浏览器, registered with --system). Each becomes a
 * warning that says how to register it. Detection paths are ones their packages install (Linux: the binary
 * or desktop file).
 */
import { existsSync } from "node:fs";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import type { Scope } from "./browsers.js";

interface BrowserHint {
  name: string;
  detect: string[];
  /** Only in this scope is the hint needed (the other one registers the browser itself). */
  scope?: Scope;
  advice: string;
}

const LINUX_HINTS: BrowserHint[] = [
  {
    name: "奇安信可信浏览器 (qaxbrowser)",
    detect: ["/opt/qianxin.com/qaxbrowser/qaxbrowser", "/usr/bin/qaxbrowser-safe-stable"],
    scope: "system",
    advice:
      "只能按用户注册（~/.config/qaxbrowser/NativeMessagingHosts）：安装软件包时已有的用户已注册，其他用户请以本人身份运行 yzt install / registered per user only: " +
      "profiles that existed when the package was installed are registered; any other user runs yzt install",
  },
  {
    name: "360安全浏览器 (com.360.browser-stable)",
    detect: ["/opt/apps/com.360.browser-stable/files/browser360", "/opt/apps/com.360.browser-stable/files/com.360.browser-stable"],
    scope: "system",
    advice:
      "只能按用户注册（~/.config/com.360.browser/NativeMessagingHosts）：安装软件包时已有的用户已注册，其他用户请以本人身份运行 yzt install；扩展请从 360 扩展中心或 yzt-bridge-360 .crx 安装 / registered per user only: " +
      "profiles that existed when the package was installed are registered; any other user runs yzt install; the extension comes from the 360 extension platform or the yzt-bridge-360 .crx",
  },
  {
    name: "统信 UOS 浏览器 (org.deepin.browser)",
    detect: ["/usr/share/applications/org.deepin.browser.desktop"],
    scope: "user",
    advice: "只能整机注册：sudo yzt install --system --browser uos / registered per machine only: sudo yzt install --system --browser uos (/etc/browser/native-messaging-hosts)",
  },
];

export function unregisteredBrowserChecks(platform: NodeJS.Platform, scope: Scope, exists: (path: string) => boolean = existsSync): DiagnosticCheck[] {
  if (platform !== "linux") return [];
  return LINUX_HINTS.filter((hint) => (hint.scope === undefined || hint.scope === scope) && hint.detect.some(exists)).map((hint) => ({
    id: "browser",
    status: "warning",
    message: `${hint.name}: ${hint.advice}`,
    detail: { browser: hint.name },
  }));
}
