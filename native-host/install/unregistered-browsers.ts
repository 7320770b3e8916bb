/**
 * Browsers `yzt doctor` finds installed but cannot register in the scope it checks: the 统信 UOS 浏览器 is
 * known per machine only (registered with --system). It becomes a warning that says how to register it.
 * Detection paths are ones its package installs (the desktop file). The forks known per user only (360,
 * 奇安信) are checked profile by profile in a machine-wide doctor (browser-delivery.ts).
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
