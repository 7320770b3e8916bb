import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { browserLocations } from "../../native-host/install/browsers.js";
import { install } from "../../native-host/install/installer.js";

describe("installer paths and Windows registry scripts", () => {
  it("knows the macOS per-user and system manifest directories", () => {
    const user = browserLocations("darwin", "user", "/Users/li");
    expect(user.find((l) => l.browser === "chrome")!.manifestDir).toBe("/Users/li/Library/Application Support/Google/Chrome/NativeMessagingHosts");
    expect(user.find((l) => l.browser === "firefox")!.manifestDir).toBe("/Users/li/Library/Application Support/Mozilla/NativeMessagingHosts");
    expect(browserLocations("darwin", "system").find((l) => l.browser === "chrome")!.manifestDir).toBe("/Library/Google/Chrome/NativeMessagingHosts");
  });

  it("knows the Linux system-wide directories", () => {
    const system = browserLocations("linux", "system");
    expect(system.find((l) => l.browser === "chrome")!.manifestDir).toBe("/etc/opt/chrome/native-messaging-hosts");
    expect(system.find((l) => l.browser === "firefox")!.manifestDir).toBe("/usr/lib/mozilla/native-messaging-hosts");
  });

  it("generates a .reg file and a PowerShell script pointing each browser's registry key at its manifest", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yzt-win-"));
    try {
      const record = install({ scope: "user", platform: "win32", dataDir, browsers: ["chrome", "edge", "firefox"], chromeId: "a".repeat(32), entry: "C:\\yzt\\main.js", node: "C:\\node\\node.exe", home: "C:\\Users\\li" });
      const reg = readFileSync(record.windowsScripts!.reg, "utf8");
      expect(reg.startsWith("Windows Registry Editor Version 5.00")).toBe(true);
      expect(reg).toContain("[HKEY_CURRENT_USER\\Software\\Google\\Chrome\\NativeMessagingHosts\\org.yztbridge.host]");
      expect(reg).toContain("[HKEY_CURRENT_USER\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\org.yztbridge.host]");
      expect(reg).toContain("[HKEY_CURRENT_USER\\Software\\Mozilla\\NativeMessagingHosts\\org.yztbridge.host]");
      const chrome = record.browsers.find((b) => b.browser === "chrome")!;
      expect(reg).toContain(`@="${chrome.manifestPath.replace(/\\/g, "\\\\")}"`);
      const ps = readFileSync(record.windowsScripts!.powershell, "utf8");
      expect(ps).toContain("New-Item -Path 'HKCU:\\Software\\Google\\Chrome\\NativeMessagingHosts\\org.yztbridge.host' -Force");
      expect(readFileSync(record.launcher, "utf8")).toContain('"C:\\node\\node.exe" "C:\\yzt\\main.js" %*');
      expect(JSON.parse(readFileSync(chrome.manifestPath, "utf8")).path).toBe(record.launcher);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
