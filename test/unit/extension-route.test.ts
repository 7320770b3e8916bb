/**
 * The 一证通证书应用环境 page's choice of how the extension reaches a browser: one route per browser, the one
 * that works from mainland China (demo/pages/extension-route.js).
 */
import { describe, expect, it } from "vitest";
import { browserKind, extensionRoute, osKind } from "../../demo/pages/extension-route.js";

const UA = {
  edgeWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
  chromeWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  chromeLinux: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  qihoo360se: "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.95 Safari/537.36 QIHU 360SE",
  qqBrowser: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 QQBrowser/12.5.5.0",
  sogou: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36 SE 2.X MetaSr 1.0",
  qianxin: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/102.0.5005.200 Safari/537.36 Qaxbrowser",
  firefoxWindows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
  safariMac: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
};
const CHROME_ID = "negkgpgeohjjdbomoiaplahclpepinif";
const ids = { chromeWebStore: CHROME_ID, edge: "abcdefghijklmnopabcdefghijklmnop", qihoo360: null };
const downloads = [
  { name: "yzt-bridge_0.1.0_setup.exe", kind: "windows" },
  { name: "yzt-bridge-chrome-0.1.0.zip", kind: "zip" },
  { name: "yzt-bridge-chrome-0.1.0.crx", kind: "crx" },
  { name: "yzt-bridge-firefox-0.1.0.xpi", kind: "xpi" },
];
const routeFor = (ua: string, brands: string[] = []) => extensionRoute({ browser: browserKind(ua, brands), os: osKind(ua), ids, downloads });

describe("browser detection for the environment page", () => {
  it("tells Edge, Chrome, 360, the other Chromium forks and Firefox apart by user agent", () => {
    expect(browserKind(UA.edgeWindows)).toBe("edge");
    expect(browserKind(UA.chromeWindows)).toBe("chrome");
    expect(browserKind(UA.qihoo360se)).toBe("qihoo360");
    for (const ua of [UA.qqBrowser, UA.sogou, UA.qianxin]) expect(browserKind(ua)).toBe("chromium-fork");
    expect(browserKind(UA.firefoxWindows)).toBe("firefox");
    expect(browserKind(UA.safariMac)).toBe("other");
  });

  it("uses client-hint brands where the user agent hides the browser", () => {
    expect(browserKind(UA.chromeWindows, ["Chromium", "Microsoft Edge", "Not-A.Brand"])).toBe("edge");
    expect(browserKind(UA.chromeWindows, ["Chromium", "360 Secure Browser"])).toBe("qihoo360");
    expect(browserKind(UA.chromeWindows, ["Chromium", "Google Chrome"])).toBe("chrome");
  });

  it("reads the OS from the user agent", () => {
    expect([UA.edgeWindows, UA.chromeLinux, UA.safariMac].map(osKind)).toEqual(["windows", "linux", "macos"]);
  });
});

describe("the one extension route per browser, Chinese first", () => {
  it("Edge: enable the extension the installer added from Edge Add-ons", () => {
    const route = routeFor(UA.edgeWindows);
    expect(route.route).toBe("enable-added");
    expect(route.title).toMatch(/^Microsoft Edge：启用/);
    expect(route.steps.join()).toContain("edge://extensions");
    expect(route.links).toEqual([{ kind: "store", href: `https://microsoftedge.microsoft.com/addons/detail/${ids.edge}`, label: expect.stringMatching(/^Edge/) }]);
  });

  it("Chrome on Windows: the Web Store link, else the offline steps with the extension .zip", () => {
    const route = routeFor(UA.chromeWindows);
    expect(route.route).toBe("chrome-store");
    expect(route.links.map((link) => link.href)).toEqual([`https://chromewebstore.google.com/detail/${CHROME_ID}`, "/packages/yzt-bridge-chrome-0.1.0.zip"]);
    expect(route.steps.join()).toContain("加载已解压的扩展程序");
  });

  it("Chrome on Linux: the package adds the extension, the user enables it", () => {
    expect(routeFor(UA.chromeLinux).route).toBe("enable-added");
    expect(routeFor(UA.chromeLinux).steps.join()).toContain("chrome://extensions");
  });

  it("360: its extension platform, offline the signed .crx", () => {
    const route = routeFor(UA.qihoo360se);
    expect(route.route).toBe("qihoo360-platform");
    expect(route.links.map((link) => link.href)).toEqual(["https://ext.se.360.cn/", "/packages/yzt-bridge-chrome-0.1.0.crx"]);
    const listed = extensionRoute({ browser: "qihoo360", os: "windows", ids: { ...ids, qihoo360: "bcdefghijklmnopabcdefghijklmnopa" }, downloads });
    expect(listed.links[0]!.href).toBe("https://ext.se.360.cn/webstore/detail/bcdefghijklmnopabcdefghijklmnopa");
  });

  it("Firefox: the signed .xpi", () => {
    const route = routeFor(UA.firefoxWindows);
    expect(route.route).toBe("firefox-xpi");
    expect(route.links.map((link) => link.href)).toEqual(["/packages/yzt-bridge-firefox-0.1.0.xpi"]);
  });

  it("QQ, 搜狗 and 奇安信: the offline steps, without a Chrome-only address", () => {
    for (const ua of [UA.qqBrowser, UA.sogou, UA.qianxin]) {
      const route = routeFor(ua);
      expect(route.route).toBe("offline-unpacked");
      expect(route.steps.join()).not.toContain("chrome://");
      expect(route.links.map((link) => link.href)).toEqual(["/packages/yzt-bridge-chrome-0.1.0.zip"]);
    }
  });

  it("any other browser: names the ones that work, and offers nothing", () => {
    const route = routeFor(UA.safariMac);
    expect(route.route).toBe("unsupported");
    expect(route.links).toEqual([]);
  });

  it("offers no store link for a store whose id is not known", () => {
    const route = extensionRoute({ browser: "edge", os: "windows", ids: { chromeWebStore: CHROME_ID, qihoo360: null }, downloads });
    expect(route.links).toEqual([]);
  });
});
