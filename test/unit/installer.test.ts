import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { browserLocations } from "../../native-host/install/browsers.js";
import { publishedIds, storeIds } from "../../native-host/install/extension-ids.js";
import { detectedBrowsers, install } from "../../native-host/install/installer.js";
import { launcherScript } from "../../native-host/install/host-manifest.js";
import { unregisteredBrowserChecks } from "../../native-host/install/unregistered-browsers.js";
import { REPO_ROOT } from "../../scripts/host-process.js";

describe("launchers", () => {
  it("start the host's Node with its memory settings, quoting paths with spaces", () => {
    const script = launcherScript({ node: "/opt/yzt bridge/bin/node", entry: "/opt/yzt bridge/dist/host/main.js", env: { YZT_PKCS11_MODULE: "/usr/lib/x.so" } });
    expect(script).toMatch(/^#!\/bin\/sh\n/);
    expect(script).toContain("export MALLOC_ARENA_MAX='2'\n");
    expect(script).toContain("export YZT_PKCS11_MODULE='/usr/lib/x.so'\n");
    expect(script).toContain(`exec '/opt/yzt bridge/bin/node' '/opt/yzt bridge/dist/host/main.js' "$@"\n`);
  });
});

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

  it("registers per machine on Windows under HKLM in both registry views, for Chrome, Chromium, Edge, Brave and Firefox", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yzt-win-"));
    try {
      const record = install({ scope: "system", platform: "win32", dataDir, chromeId: "a".repeat(32), entry: "C:\\yzt\\main.js", node: "C:\\node\\node.exe" });
      const reg = readFileSync(record.windowsScripts!.reg, "utf8");
      for (const vendor of ["Google\\Chrome", "Chromium", "Microsoft\\Edge", "BraveSoftware\\Brave-Browser", "Mozilla"]) {
        for (const view of ["Software", "Software\\WOW6432Node"]) expect(reg).toContain(`[HKEY_LOCAL_MACHINE\\${view}\\${vendor}\\NativeMessagingHosts\\org.yztbridge.host]`);
      }
      expect(reg).not.toContain("HKEY_CURRENT_USER");
      expect(record.browsers.map((b) => b.browser)).toEqual(["chrome", "chromium", "edge", "brave", "firefox"]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("lets every published id talk to the host: the Chrome id and the store ids", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "yzt-ids-"));
    try {
      const storeId = "b".repeat(32);
      const record = install({ scope: "user", platform: "linux", dataDir, home: dataDir, browsers: ["chromium", "firefox"], chromeId: "a".repeat(32), storeIds: [storeId], entry: "/x/main.js" });
      const chromium = JSON.parse(readFileSync(record.browsers.find((b) => b.browser === "chromium")!.manifestPath, "utf8")) as { allowed_origins: string[] };
      expect(chromium.allowed_origins).toEqual([`chrome-extension://${"a".repeat(32)}/`, `chrome-extension://${storeId}/`]);
      const firefox = JSON.parse(readFileSync(record.browsers.find((b) => b.browser === "firefox")!.manifestPath, "utf8")) as { allowed_extensions: string[] };
      expect(firefox.allowed_extensions).toEqual(["yzt-bridge@yztbridge.org"]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("registers the 统信 UOS browser per machine in /etc/browser, and refuses it per user with the command that works", () => {
    expect(browserLocations("linux", "system").find((l) => l.browser === "uos")!.manifestDir).toBe("/etc/browser/native-messaging-hosts");
    expect(browserLocations("linux", "user").some((l) => l.browser === "uos")).toBe(false);
    const dataDir = mkdtempSync(join(tmpdir(), "yzt-uos-"));
    try {
      expect(() => install({ scope: "user", platform: "linux", dataDir, home: dataDir, browsers: ["uos"], chromeId: "a".repeat(32), entry: "/x/main.js" })).toThrow(/yzt install --system --browser uos/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("doctor names an installed UOS browser in a per-user check, where it cannot be registered; nothing when absent", () => {
    expect(unregisteredBrowserChecks("linux", "user", () => false)).toEqual([]);
    expect(unregisteredBrowserChecks("win32", "user", () => true)).toEqual([]);
    const uos = unregisteredBrowserChecks("linux", "user", (path) => path.endsWith("org.deepin.browser.desktop"));
    expect(uos.map((c) => c.message).join()).toContain("--system --browser uos");
    expect(unregisteredBrowserChecks("linux", "system", (path) => path.endsWith("org.deepin.browser.desktop"))).toEqual([]);
  });

  it("registers 360安全浏览器 and 奇安信可信浏览器 per user in their profiles' NativeMessagingHosts", () => {
    const home = mkdtempSync(join(tmpdir(), "yzt-profiles-"));
    try {
      for (const profile of ["com.360.browser", "qaxbrowser"]) mkdirSync(join(home, ".config", profile), { recursive: true });
      // Found by their profiles alone (this machine's own browsers left out).
      const browsers = detectedBrowsers("linux", "user", home, (path) => path.startsWith(home) && existsSync(path));
      expect(browsers).toEqual(["qihoo360", "qaxbrowser"]);
      const record = install({ scope: "user", platform: "linux", dataDir: join(home, "data"), home, browsers, chromeId: "a".repeat(32), entry: "/x/main.js" });
      expect(record.browsers.map((b) => b.manifestPath)).toEqual([
        join(home, ".config", "com.360.browser", "NativeMessagingHosts", "org.yztbridge.host.json"),
        join(home, ".config", "qaxbrowser", "NativeMessagingHosts", "org.yztbridge.host.json"),
      ]);
      for (const entry of record.browsers) expect(JSON.parse(readFileSync(entry.manifestPath, "utf8"))).toMatchObject({ name: "org.yztbridge.host", allowed_origins: [`chrome-extension://${"a".repeat(32)}/`] });
      expect(browserLocations("linux", "system").map((l) => l.browser)).not.toContain("qihoo360");
      expect(() => install({ scope: "system", platform: "linux", dataDir: join(home, "system"), home, browsers: ["qaxbrowser"], chromeId: "a".repeat(32), entry: "/x/main.js" })).toThrow(/run yzt install as that user/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("published extension ids (packaging/extension-ids.json)", () => {
  it("defaults the store ids to the Chrome id of the manifest key, with no 360 id", () => {
    const ids = publishedIds(REPO_ROOT, { env: {} });
    expect(ids.chrome).toMatch(/^[a-p]{32}$/);
    expect(ids).toEqual({ chrome: ids.chrome, chromeWebStore: ids.chrome, edge: ids.chrome, qihoo360: null });
    expect(storeIds(ids)).toEqual([]);
  });

  it("takes each store's own id from the environment and lists them once each", () => {
    const edge = "c".repeat(32);
    const ids = publishedIds(REPO_ROOT, { env: { YZT_EDGE_EXTENSION_ID: edge, YZT_360_EXTENSION_ID: "d".repeat(32), YZT_CHROME_WEB_STORE_ID: edge } });
    expect(storeIds(ids)).toEqual([edge, "d".repeat(32)]);
  });

  it("refuses an id that is not 32 letters a-p", () => {
    expect(() => publishedIds(REPO_ROOT, { env: { YZT_EDGE_EXTENSION_ID: "not-an-id" } })).toThrow(/Edge Add-ons id/);
  });
});
