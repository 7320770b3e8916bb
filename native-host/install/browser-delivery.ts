/**
 * What `yzt doctor --system` says about each browser it finds on a Linux machine where the package is
 * installed: is the browser there, does it see the native host (a manifest where it reads them), and is the
 * extension delivered to it (the external-extension file or the Firefox policy the package writes). The
 * paths are the ones linux-tree.ts and the maintainer scripts write; for each browser, any one of its paths
 * suffices. A browser that is not installed is not mentioned; one that is installed but lacks either half
 * gets a warning that says how to repair it, in Chinese first.
 */
import { existsSync, readFileSync } from "node:fs";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { HOST_NAME } from "../../protocol/messages.js";
import { FIREFOX_EXTENSION_ID } from "./host-manifest.js";

export interface BrowserDelivery {
  name: string;
  /** Paths its package installs (binary, desktop file): any one means it is installed. */
  detect: string[];
  /** Directories it reads host manifests from. */
  hostDirs: string[];
  /** How the extension reaches it: Chromium's external-extension directories, or Firefox policy files. */
  extension: { externalDirs: string[] } | { firefoxPolicies: string[] };
}

const FIREFOX_HOST_DIRS = ["/usr/lib/mozilla/native-messaging-hosts", "/usr/lib64/mozilla/native-messaging-hosts"];

export const LINUX_BROWSER_DELIVERY: readonly BrowserDelivery[] = [
  { name: "Google Chrome", detect: ["/opt/google/chrome/chrome", "/usr/bin/google-chrome"], hostDirs: ["/etc/opt/chrome/native-messaging-hosts"], extension: { externalDirs: ["/usr/share/google-chrome/extensions"] } },
  { name: "Chromium", detect: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"], hostDirs: ["/etc/chromium/native-messaging-hosts"], extension: { externalDirs: ["/usr/share/chromium/extensions"] } },
  { name: "Microsoft Edge", detect: ["/opt/microsoft/msedge/msedge", "/usr/bin/microsoft-edge"], hostDirs: ["/etc/opt/edge/native-messaging-hosts"], extension: { externalDirs: ["/usr/share/microsoft-edge/extensions"] } },
  { name: "统信 UOS 浏览器 (org.deepin.browser)", detect: ["/usr/share/applications/org.deepin.browser.desktop", "/usr/bin/browser"], hostDirs: ["/etc/browser/native-messaging-hosts"], extension: { externalDirs: ["/usr/share/browser/extensions"] } },
  { name: "Firefox", detect: ["/usr/lib/firefox/firefox", "/usr/lib/firefox-esr/firefox-esr", "/usr/lib64/firefox/firefox"], hostDirs: FIREFOX_HOST_DIRS, extension: { firefoxPolicies: ["/usr/lib/firefox/distribution/policies.json", "/usr/lib/firefox-esr/distribution/policies.json", "/usr/lib64/firefox/distribution/policies.json", "/etc/firefox/policies/policies.json"] } },
  // The snap reaches native hosts through the WebExtensions portal, which reads the usual manifests.
  { name: "Firefox (snap)", detect: ["/snap/bin/firefox", "/snap/firefox/current"], hostDirs: FIREFOX_HOST_DIRS, extension: { firefoxPolicies: ["/etc/firefox/policies/policies.json"] } },
];

export interface DeliveryProbe {
  exists(path: string): boolean;
  read(path: string): string | null;
}

const realProbe: DeliveryProbe = {
  exists: existsSync,
  read: (path) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return null;
    }
  },
};

/** Does a Firefox policies.json force-install this extension? */
function policyInstallsExtension(text: string | null): boolean {
  if (text === null) return false;
  try {
    const settings = (JSON.parse(text) as { policies?: { ExtensionSettings?: Record<string, { installation_mode?: string }> } }).policies?.ExtensionSettings;
    const mode = settings?.[FIREFOX_EXTENSION_ID]?.installation_mode;
    return mode === "force_installed" || mode === "normal_installed";
  } catch {
    return false;
  }
}

function extensionDelivered(browser: BrowserDelivery, chromeId: string, probe: DeliveryProbe): boolean {
  if ("externalDirs" in browser.extension) return browser.extension.externalDirs.some((dir) => probe.exists(`${dir}/${chromeId}.json`));
  return browser.extension.firefoxPolicies.some((file) => policyInstallsExtension(probe.read(file)));
}

export function browserDeliveryChecks(chromeId: string, probe: DeliveryProbe = realProbe, browsers: readonly BrowserDelivery[] = LINUX_BROWSER_DELIVERY): DiagnosticCheck[] {
  return browsers
    .filter((browser) => browser.detect.some((path) => probe.exists(path)))
    .map((browser) => {
      const hostRegistered = browser.hostDirs.some((dir) => probe.exists(`${dir}/${HOST_NAME}.json`));
      const delivered = extensionDelivered(browser, chromeId, probe);
      const detail = { browser: browser.name, installed: true, hostRegistered, extensionDelivered: delivered };
      if (hostRegistered && delivered) return { id: "browser", status: "ok", message: `${browser.name}: 已安装，本地服务已注册，扩展已送达 / installed, host registered, extension delivered`, detail };
      const problems = [
        ...(hostRegistered ? [] : ["本地服务未注册，请运行 sudo yzt doctor --system --fix / host not registered: run sudo yzt doctor --system --fix"]),
        ...(delivered ? [] : ["扩展未送达，请重新安装 yzt-bridge 软件包 (sudo apt install --reinstall yzt-bridge) / extension not delivered: reinstall the yzt-bridge package"]),
      ];
      return { id: "browser", status: "warning", message: `${browser.name}: ${problems.join("; ")}`, detail };
    });
}
