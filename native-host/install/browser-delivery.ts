/**
 * What `yzt doctor --system` says about each browser it finds on a Linux machine where the package is
 * installed: is the browser there, does it see the native host (a manifest where it reads them), and is the
 * extension delivered to it (the external-extension file or the Firefox policy the package writes). The
 * paths are the ones linux-tree.ts and the maintainer scripts write; for each browser, any one of its paths
 * suffices; the forks registered per user (360, 奇安信) are checked in each user's profile. A browser that is
 * not installed is not mentioned; one that is installed but lacks either half gets a warning that says how to
 * repair it, in Chinese first.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { HOST_NAME } from "../../protocol/messages.js";
import { LINUX_PROFILE_BROWSERS } from "./browsers.js";
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

/**
 * A fork registered per user (browsers.ts LINUX_PROFILE_BROWSERS): the package writes into each profile that
 * existed when it was installed, so each profile found is checked for its manifest and external extension.
 */
export interface ProfileBrowserDelivery {
  name: string;
  detect: string[];
  /** Its profile folder's name under each user's ~/.config. */
  profile: string;
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

export const LINUX_PROFILE_DELIVERY: readonly ProfileBrowserDelivery[] = Object.values(LINUX_PROFILE_BROWSERS).map(({ name, profile, binaries }) => ({ name, profile, detect: [...binaries] }));

export interface DeliveryProbe {
  exists(path: string): boolean;
  read(path: string): string | null;
  /** Every user's profile folder of this name that exists (~/.config/<name> of root and of each /home user). */
  profiles(name: string): string[];
}

function homeProfiles(name: string): string[] {
  let homes: string[] = [];
  try {
    homes = readdirSync("/home").map((user) => `/home/${user}`);
  } catch {
    // no /home: root's profile only
  }
  // As the maintainer scripts see them: a symlinked profile is skipped there, so it is not counted here.
  return ["/root", ...homes].map((home) => `${home}/.config/${name}`).filter((dir) => {
    try {
      return lstatSync(dir).isDirectory();
    } catch {
      return false;
    }
  });
}

const realProbe: DeliveryProbe = {
  profiles: homeProfiles,
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

/** A per-user fork: every profile found should hold both profile files; none found yet is said as such. */
function profileBrowserCheck(browser: ProfileBrowserDelivery, chromeId: string, probe: DeliveryProbe): DiagnosticCheck {
  const profiles = probe.profiles(browser.profile);
  const count = (file: string) => profiles.filter((profile) => probe.exists(`${profile}/${file}`)).length;
  const registered = count(`NativeMessagingHosts/${HOST_NAME}.json`);
  const offered = count(`External Extensions/${chromeId}.json`);
  const detail = { browser: browser.name, installed: true, profiles: profiles.length, hostRegistered: registered, extensionOffered: offered };
  if (profiles.length === 0) {
    return { id: "browser", status: "warning", message: `${browser.name}: 尚无用户配置，请每位用户首次启动该浏览器后运行 yzt install / no profile yet: each user runs yzt install after the browser's first start`, detail };
  }
  const status = registered === profiles.length && offered === profiles.length ? "ok" : "warning";
  // yzt install registers the host for a user; the extension offer comes with the package's own files.
  const repair = status === "ok" ? "" : "；缺少的用户首次启动浏览器后，请运行 yzt install 并重新安装 yzt-bridge 软件包 / a user without it runs yzt install, and the yzt-bridge package is reinstalled, after that user's first browser start";
  return {
    id: "browser",
    status,
    message: `${browser.name}: ${profiles.length} 个用户配置中 ${registered} 个已注册本地服务、${offered} 个已提供扩展${repair} / host registered in ${registered} of ${profiles.length} profiles, extension offered in ${offered}`,
    detail,
  };
}

export function browserDeliveryChecks(
  chromeId: string,
  probe: DeliveryProbe = realProbe,
  browsers: readonly BrowserDelivery[] = LINUX_BROWSER_DELIVERY,
  profileBrowsers: readonly ProfileBrowserDelivery[] = LINUX_PROFILE_DELIVERY,
): DiagnosticCheck[] {
  const installed = (browser: { detect: string[] }) => browser.detect.some((path) => probe.exists(path));
  return [...systemBrowserChecks(chromeId, probe, browsers.filter(installed)), ...profileBrowsers.filter(installed).map((browser) => profileBrowserCheck(browser, chromeId, probe))];
}

function systemBrowserChecks(chromeId: string, probe: DeliveryProbe, browsers: readonly BrowserDelivery[]): DiagnosticCheck[] {
  return browsers
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
