/**
 * Browsers `yzt doctor` finds installed but cannot be sure it registered: their native-messaging directory is
 * not published (奇安信可信浏览器 on Linux), or known per machine only (统信 UOS 浏览器, registered with
 * --system). Each becomes a warning that says how to register it. Detection paths are ones their packages
 * install (Linux: the binary or desktop file).
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
    advice:
      "其本地服务目录未公开；它沿用 Chromium 的查找方式时，运行 sudo yzt install --system --browser chromium 即可 / its host directory is not published; " +
      "as a Chromium build that keeps Chromium's lookup, sudo yzt install --system --browser chromium (/etc/chromium/native-messaging-hosts) registers it",
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
