/**
 * Where each browser looks for native-messaging host manifests, per OS and scope (current user or the
 * whole machine). Windows browsers look in the registry instead; there the manifest can live anywhere
 * and a registry value points at it.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import type { BrowserFamily } from "./host-manifest.js";

export type BrowserName = "chrome" | "chromium" | "edge" | "brave" | "firefox";
export type Scope = "user" | "system";
export const BROWSERS: readonly BrowserName[] = ["chrome", "chromium", "edge", "brave", "firefox"];

export function familyOf(browser: BrowserName): BrowserFamily {
  return browser === "firefox" ? "firefox" : "chromium";
}

export interface BrowserLocation {
  browser: BrowserName;
  /** Directory for host manifests (Linux/macOS), or where we keep the manifest on Windows. */
  manifestDir: string;
  /** Windows only: registry key whose default value is the manifest path. */
  registryKey?: string;
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
    const hive = user ? "HKEY_CURRENT_USER" : "HKEY_LOCAL_MACHINE";
    const keys: Record<BrowserName, string> = {
      chrome: "Software\\Google\\Chrome\\NativeMessagingHosts",
      chromium: "Software\\Chromium\\NativeMessagingHosts",
      edge: "Software\\Microsoft\\Edge\\NativeMessagingHosts",
      brave: "Software\\BraveSoftware\\Brave-Browser\\NativeMessagingHosts",
      firefox: "Software\\Mozilla\\NativeMessagingHosts",
    };
    return BROWSERS.map((browser) => ({
      browser,
      manifestDir: join(dataDir, "manifests", browser),
      registryKey: `${hive}\\${keys[browser]}\\org.yztbridge.host`,
      detect: [],
    }));
  }
  const config = join(home, ".config");
  return [
    { browser: "chrome", manifestDir: user ? join(config, "google-chrome", "NativeMessagingHosts") : "/etc/opt/chrome/native-messaging-hosts", detect: ["/usr/bin/google-chrome", "/opt/google/chrome", join(config, "google-chrome")] },
    { browser: "chromium", manifestDir: user ? join(config, "chromium", "NativeMessagingHosts") : "/etc/chromium/native-messaging-hosts", detect: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium", join(config, "chromium")] },
    { browser: "edge", manifestDir: user ? join(config, "microsoft-edge", "NativeMessagingHosts") : "/etc/opt/edge/native-messaging-hosts", detect: ["/usr/bin/microsoft-edge", "/opt/microsoft/msedge", join(config, "microsoft-edge")] },
    { browser: "brave", manifestDir: user ? join(config, "BraveSoftware", "Brave-Browser", "NativeMessagingHosts") : "/etc/opt/chrome/native-messaging-hosts", detect: ["/usr/bin/brave-browser", "/opt/brave.com/brave", join(config, "BraveSoftware")] },
    { browser: "firefox", manifestDir: user ? join(home, ".mozilla", "native-messaging-hosts") : "/usr/lib/mozilla/native-messaging-hosts", detect: ["/usr/bin/firefox", "/usr/bin/firefox-esr", "/snap/bin/firefox", join(home, ".mozilla")] },
  ];
}
