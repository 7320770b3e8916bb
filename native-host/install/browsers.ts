/**
 * Where each browser looks for native-messaging host manifests, per OS and scope (current user or the
 * whole machine). Windows browsers look in the registry instead; there the manifest can live anywhere
 * and a registry value points at it.
 *
 * Windows: Chromium reads `<hive>\Software\Google\Chrome\NativeMessagingHosts\<name>` (HKCU first, then
 * HKLM in both registry views: 32-bit `Software\WOW6432Node\…` and 64-bit); Edge reads `Microsoft\Edge`,
 * then `Chromium`, then `Google\Chrome`. Chinese forks (360安全浏览器, 360极速浏览器, QQ浏览器, 搜狗, 2345,
 * 奇安信可信浏览器) are Chromium builds that keep Chromium's lookup unless they patched it, so the keys below
 * reach them too. Per machine, every key is written in both views.
 *
 * Linux: `uos` is the 统信 UOS / deepin browser (org.deepin.browser): its system directory
 * `/etc/browser/native-messaging-hosts` is where deepin's own packages put their hosts (linuxdeepin
 * org.deepin.downloader). Its per-user directory is not published, so it is registered per machine only.
 * `qihoo360` (360安全浏览器, package com.360.browser-stable) and `qaxbrowser` (奇安信可信浏览器) are the other way
 * round: closed Chromium forks whose system directory is compiled in and not published, while their profiles
 * are known (`~/.config/com.360.browser`, `~/.config/qaxbrowser`) and, as Chromium does, they read
 * `<profile>/NativeMessagingHosts` — seen working for qaxbrowser on Kylin V10; Chromium's convention for 360.
 * So they are registered per user only.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import type { BrowserFamily } from "./host-manifest.js";

export type BrowserName = "chrome" | "chromium" | "edge" | "brave" | "uos" | "qihoo360" | "qaxbrowser" | "firefox";
export type Scope = "user" | "system";
export const BROWSERS: readonly BrowserName[] = ["chrome", "chromium", "edge", "brave", "uos", "qihoo360", "qaxbrowser", "firefox"];

/**
 * The Linux browsers registered per user only: their name for people, their profile folder under ~/.config,
 * and the files their packages install (any one means the browser is installed).
 */
export const LINUX_PROFILE_BROWSERS = {
  qihoo360: { name: "360安全浏览器 (com.360.browser-stable)", profile: "com.360.browser", binaries: ["/opt/apps/com.360.browser-stable/files/browser360", "/opt/apps/com.360.browser-stable/files/com.360.browser-stable"] },
  qaxbrowser: { name: "奇安信可信浏览器 (qaxbrowser)", profile: "qaxbrowser", binaries: ["/opt/qianxin.com/qaxbrowser/qaxbrowser", "/usr/bin/qaxbrowser-safe-stable"] },
} as const;
export const LINUX_PROFILE_DIRS: readonly string[] = Object.values(LINUX_PROFILE_BROWSERS).map((browser) => browser.profile);

/** Windows: the registry key (under Software\) each browser reads its host manifests from. */
export const WINDOWS_HOST_KEYS: Partial<Record<BrowserName, string>> = {
  chrome: "Google\\Chrome\\NativeMessagingHosts",
  chromium: "Chromium\\NativeMessagingHosts",
  edge: "Microsoft\\Edge\\NativeMessagingHosts",
  brave: "BraveSoftware\\Brave-Browser\\NativeMessagingHosts",
  firefox: "Mozilla\\NativeMessagingHosts",
};

/** Windows registry keys for one browser: HKCU per user; HKLM in the 64-bit and the 32-bit (WOW6432Node) view per machine. */
export function windowsHostKeys(browser: BrowserName, scope: Scope, hostName: string): string[] {
  const key = WINDOWS_HOST_KEYS[browser];
  if (!key) return [];
  return scope === "user"
    ? [`HKEY_CURRENT_USER\\Software\\${key}\\${hostName}`]
    : [`HKEY_LOCAL_MACHINE\\Software\\${key}\\${hostName}`, `HKEY_LOCAL_MACHINE\\Software\\WOW6432Node\\${key}\\${hostName}`];
}

export function familyOf(browser: BrowserName): BrowserFamily {
  return browser === "firefox" ? "firefox" : "chromium";
}

export interface BrowserLocation {
  browser: BrowserName;
  /** Directory for host manifests (Linux/macOS), or where we keep the manifest on Windows. */
  manifestDir: string;
  /** Windows only: registry keys whose default value is the manifest path (both views per machine). */
  registryKeys?: string[];
  /** A path whose existence means the browser is installed or has been used. */
  detect: string[];
}

export function browserLocations(platform: NodeJS.Platform, scope: Scope, home = homedir(), dataDir = ""): BrowserLocation[] {
  const user = scope === "user";
  if (platform === "darwin") {
    const base = user ? join(home, "Library", "Application Support") : "/Library/Application Support";
    const systemChrome = "/Library/Google/Chrome/NativeMessagingHosts";
    return [
      { browser: "chrome", manifestDir: user ? join(base, "Google", "Chrome", "NativeMessagingHosts") : systemChrome, detect: ["/Applications/Google Chrome.app", join(home, "Library", "Application Support", "Google", "Chrome")] },
      { browser: "chromium", manifestDir: join(base, "Chromium", "NativeMessagingHosts"), detect: ["/Applications/Chromium.app", join(home, "Library", "Application Support", "Chromium")] },
      { browser: "edge", manifestDir: user ? join(base, "Microsoft Edge", "NativeMessagingHosts") : "/Library/Microsoft/Edge/NativeMessagingHosts", detect: ["/Applications/Microsoft Edge.app"] },
      { browser: "brave", manifestDir: join(base, "BraveSoftware", "Brave-Browser", "NativeMessagingHosts"), detect: ["/Applications/Brave Browser.app"] },
      { browser: "firefox", manifestDir: join(base, "Mozilla", "NativeMessagingHosts"), detect: ["/Applications/Firefox.app", join(home, "Library", "Application Support", "Firefox")] },
    ];
  }
  if (platform === "win32") {
    return BROWSERS.filter((browser) => WINDOWS_HOST_KEYS[browser]).map((browser) => ({
      browser,
      manifestDir: join(dataDir, "manifests", browser),
      registryKeys: windowsHostKeys(browser, scope, HOST_NAME),
      detect: [],
    }));
  }
  const config = join(home, ".config");
  return [
    { browser: "chrome", manifestDir: user ? join(config, "google-chrome", "NativeMessagingHosts") : "/etc/opt/chrome/native-messaging-hosts", detect: ["/usr/bin/google-chrome", "/opt/google/chrome", join(config, "google-chrome")] },
    { browser: "chromium", manifestDir: user ? join(config, "chromium", "NativeMessagingHosts") : "/etc/chromium/native-messaging-hosts", detect: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium", join(config, "chromium")] },
    { browser: "edge", manifestDir: user ? join(config, "microsoft-edge", "NativeMessagingHosts") : "/etc/opt/edge/native-messaging-hosts", detect: ["/usr/bin/microsoft-edge", "/opt/microsoft/msedge", join(config, "microsoft-edge")] },
    { browser: "brave", manifestDir: user ? join(config, "BraveSoftware", "Brave-Browser", "NativeMessagingHosts") : "/etc/opt/chrome/native-messaging-hosts", detect: ["/usr/bin/brave-browser", "/opt/brave.com/brave", join(config, "BraveSoftware")] },
    ...(user ? [] : [{ browser: "uos" as const, manifestDir: "/etc/browser/native-messaging-hosts", detect: ["/usr/share/applications/org.deepin.browser.desktop"] }]),
    ...(user
      ? (["qihoo360", "qaxbrowser"] as const).map((browser) => {
          const { profile, binaries } = LINUX_PROFILE_BROWSERS[browser];
          return { browser, manifestDir: join(config, profile, "NativeMessagingHosts"), detect: [...binaries, join(config, profile)] };
        })
      : []),
    { browser: "firefox", manifestDir: user ? join(home, ".mozilla", "native-messaging-hosts") : "/usr/lib/mozilla/native-messaging-hosts", detect: ["/usr/bin/firefox", "/usr/bin/firefox-esr", "/snap/bin/firefox", join(home, ".mozilla")] },
  ];
}
