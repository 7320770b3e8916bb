/**
 * Which way the yzt-bridge extension reaches the visitor's browser, for the 一证通证书应用环境 page: one
 * route per browser, the one that works from mainland China, Chinese first. Pure functions of what the page
 * knows (user agent, client-hint brands, OS, published ids, downloads), so sites can copy them and the
 * tests check them without a browser (test/unit/extension-route.test.ts).
 *
 * - Edge: the Windows installer (and the Linux/macOS packages) add the extension from Edge Add-ons, which is
 *   reachable from mainland China: the user only enables it.
 * - Chrome on Windows/macOS: the Chrome Web Store, which mainland China cannot reach; else the offline steps
 *   (the extension .zip, loaded unpacked: its manifest key keeps the id the native host allows).
 * - 360安全浏览器 / 360极速浏览器: the 360 extension platform; offline, the .crx dropped on its extension page.
 * - Firefox: the Mozilla-signed .xpi.
 * - Other Chromium forks (QQ浏览器, 搜狗, 2345, 奇安信可信浏览器): the offline steps; they find the host
 *   through Chromium's registry keys, which the installer writes.
 * - On Linux the .deb/.rpm adds the extension to Chrome, Chromium and Edge itself.
 */

/** @typedef {"edge" | "chrome" | "qihoo360" | "firefox" | "chromium-fork" | "other"} BrowserKind */
/** @typedef {"windows" | "macos" | "linux" | "other"} OsKind */

/** Forks that show themselves in the user agent (360 builds often hide, see qihoo360Brand). */
const FORK_TOKENS = [/QQBrowser\//, /MetaSr/, /2345Explorer/, /Qaxbrowser/i, /UOSBrowser|uosbrowser/];

/** 360's browsers: their UA token where they show one, or a client-hint brand naming 360. */
function qihoo360(userAgent, brands) {
  return /QIHU|360SE|360EE/.test(userAgent) || brands.some((brand) => /360/.test(brand));
}

/**
 * @param {string} userAgent navigator.userAgent
 * @param {string[]} [brands] navigator.userAgentData.brands[].brand, where the browser has client hints
 * @returns {BrowserKind}
 */
export function browserKind(userAgent, brands = []) {
  if (/Firefox\//.test(userAgent)) return "firefox";
  if (qihoo360(userAgent, brands)) return "qihoo360";
  if (/Edg(e|A|iOS)?\//.test(userAgent) || brands.includes("Microsoft Edge")) return "edge";
  if (FORK_TOKENS.some((token) => token.test(userAgent))) return "chromium-fork";
  if (/Chrome\/|Chromium\//.test(userAgent) || brands.includes("Google Chrome") || brands.includes("Chromium")) return "chrome";
  return "other";
}

/**
 * @param {string} userAgent
 * @returns {OsKind}
 */
export function osKind(userAgent) {
  if (/Windows/.test(userAgent)) return "windows";
  if (/Mac OS X|Macintosh/.test(userAgent)) return "macos";
  if (/Linux|X11|CrOS/.test(userAgent)) return "linux";
  return "other";
}

export const STORE_LINKS = {
  edge: (id) => `https://microsoftedge.microsoft.com/addons/detail/${id}`,
  chromeWebStore: (id) => `https://chromewebstore.google.com/detail/${id}`,
  qihoo360: (id) => (id ? `https://ext.se.360.cn/webstore/detail/${id}` : "https://ext.se.360.cn/"),
};

const OFFLINE_UNPACKED = [
  "下载下方的“扩展离线包 (.zip)”，解压到一个固定的文件夹（之后不要删除或移动它）。",
  "在地址栏打开扩展管理页（Chrome：chrome://extensions），打开右上角的【开发者模式】。",
  "点击【加载已解压的扩展程序】，选择解压后的文件夹；然后刷新本页。",
];

/**
 * @typedef {{ name: string; kind: string }} Download
 * @typedef {{ chromeWebStore?: string; edge?: string; qihoo360?: string | null }} StoreIds
 * @typedef {{ kind: "store" | "download"; href: string; label: string }} RouteLink
 * @typedef {{ route: string; title: string; steps: string[]; links: RouteLink[] }} ExtensionRoute
 */

/**
 * The one route for this browser on this OS.
 * @param {{ browser: BrowserKind; os: OsKind; ids: StoreIds; downloads: Download[] }} visitor
 * @returns {ExtensionRoute}
 */
export function extensionRoute({ browser, os, ids, downloads }) {
  const download = (kind, label) => {
    const file = downloads.find((d) => d.kind === kind);
    return file ? [{ kind: "download", href: `/packages/${encodeURIComponent(file.name)}`, label }] : [];
  };
  const offlineZip = download("zip", "扩展离线包 (.zip) / extension for offline install");
  if (browser === "firefox") {
    return {
      route: "firefox-xpi",
      title: "Firefox：安装已签名的扩展",
      steps: ["点击下方的“Firefox 扩展 (.xpi)”，Firefox 询问时点击【添加】。", "然后刷新本页。"],
      links: download("xpi", "Firefox 扩展 (.xpi) / signed Firefox extension"),
    };
  }
  if (browser === "edge" || (os === "linux" && browser === "chrome")) {
    return {
      route: "enable-added",
      title: browser === "edge" ? "Microsoft Edge：启用安装程序添加的扩展" : "Chrome / Chromium：启用安装包添加的扩展",
      steps: [
        "先下载并安装上方的证书应用环境安装包（它会把扩展加入浏览器）。",
        "重新启动浏览器，右上角提示“已添加新的扩展”时点击【启用扩展】。",
        `没有提示时，打开 ${browser === "edge" ? "edge://extensions" : "chrome://extensions"}，打开“yzt-bridge 一证通桥接”的开关，然后刷新本页。`,
      ],
      links: browser === "edge" && ids.edge ? [{ kind: "store", href: STORE_LINKS.edge(ids.edge), label: "Edge 外接程序商店 / Microsoft Edge Add-ons" }] : [],
    };
  }
  if (browser === "qihoo360") {
    return {
      route: "qihoo360-platform",
      title: "360 浏览器：从 360 扩展中心安装",
      steps: [
        "打开下方的 360 扩展中心页面，点击【安装】。",
        "无法打开时：下载“扩展安装包 (.crx)”，打开 360 浏览器的扩展管理页，把文件拖入页面并确认添加。",
        "然后刷新本页。",
      ],
      links: [{ kind: "store", href: STORE_LINKS.qihoo360(ids.qihoo360 ?? null), label: "360 扩展中心 / 360 extension platform" }, ...download("crx", "扩展安装包 (.crx) / signed extension")],
    };
  }
  if (browser === "chrome") {
    return {
      route: "chrome-store",
      title: "Chrome：从 Chrome 应用商店安装，无法访问时离线安装",
      steps: ["打开下方的 Chrome 应用商店页面，点击【添加至 Chrome】。", "无法打开应用商店时（中国大陆网络）按以下步骤离线安装：", ...OFFLINE_UNPACKED],
      links: [...(ids.chromeWebStore ? [{ kind: "store", href: STORE_LINKS.chromeWebStore(ids.chromeWebStore), label: "Chrome 应用商店 / Chrome Web Store" }] : []), ...offlineZip],
    };
  }
  if (browser === "chromium-fork") {
    return {
      route: "offline-unpacked",
      title: "其他浏览器（QQ、搜狗、2345、奇安信等）：离线安装扩展",
      steps: OFFLINE_UNPACKED.map((step) => step.replace("（Chrome：chrome://extensions）", "")),
      links: offlineZip,
    };
  }
  return { route: "unsupported", title: "请使用 Edge、Chrome、360 浏览器或 Firefox", steps: ["本浏览器无法安装证书应用环境扩展：请改用 Microsoft Edge、Google Chrome、360 浏览器或 Firefox 打开本页。"], links: [] };
}
