/**
 * The table of known 国密 USB key models: USB vendor:product ids, who makes them, and per OS where their
 * vendor's SKF (GM/T 0016) library and PKCS#11 module land when the driver is installed. It plays the part of
 * BJCA's closed `driver.ini` (vid/pid → vendor DLL), in the open. Data only; usb-keys.ts does the matching.
 *
 * Every id and path here was seen in a source, named in the entry's `source`. A model whose ids no source
 * established is left out rather than guessed; a library whose file name is known but whose install
 * directory is not has no `dir` (hints name it, discovery cannot look for it).
 *
 * Adding a model: one entry below plus a test in test/unit/usb-keys.test.ts (README, "Key models").
 */

/** The operating systems the host ships for, as `process.platform` names them. */
export type KeyPlatform = "linux" | "win32" | "darwin";

export interface LibraryLocation {
  file: string;
  /**
   * Directory the driver installs the file into. A segment may hold `*` for versioned directories
   * (BJCA's `CertAppEnvV3.8`). Absent: the file name is known, its directory is not.
   */
  dir?: string;
  /** A 32-bit build (SysWOW64, `x86` folders): shows the driver is installed, a 64-bit host cannot load it. */
  build32?: true;
}

export interface PlatformLibraries {
  skf: LibraryLocation[];
  pkcs11: LibraryLocation[];
}

export interface UsbKeyModel {
  /** Stable id for logs, diagnostics and localisation. */
  id: string;
  model: string;
  vendor: { zh: string; en: string };
  /** Four lower-case hex digits, as sysfs `idVendor` reads. */
  vendorId: string;
  productIds: string[];
  libraries: Partial<Record<KeyPlatform, PlatformLibraries>>;
  /** Where the driver comes from. */
  download: string;
  /** Where each id, file name and path was seen. */
  source: string;
}

const WINDOWS_SYSTEM32 = "C:\\Windows\\System32";
const WINDOWS_SYSWOW64 = "C:\\Windows\\SysWOW64";
/** BJCA 证书应用环境 installs as `BJCAClient\CertAppEnv<version>\{Program,Driver}`; its driver.ini sits in Driver. */
const BJCA_DRIVER_X86 = "C:\\Program Files (x86)\\BJCAClient\\CertAppEnv*\\Driver\\x86";

const BJCA_YZT_DOWNLOAD =
  "北京一证通：安装 BJCA 证书助手应用环境（北京一证通服务平台 → 下载专区；" +
  "一证通常见问题页 https://2380807.com/html/faq.html 链到下载）";

const NO_LIBRARIES: PlatformLibraries = { skf: [], pkcs11: [] };

function located(file: string, dirs: string[], extra: Partial<LibraryLocation> = {}): LibraryLocation[] {
  return dirs.map((dir) => ({ file, dir, ...extra }));
}

const GM3000_LINUX_SKF_DIRS = [
  "/opt/lm-gm3000/lib",
  "/opt/lm-gm3000user/lib",
  "/opt/lm-gm3000admin/lib",
  "/opt/apps/com.longmai.gm3000user/files/lib",
  "/opt/apps/com.longmai.gm3000admin/files/lib",
  "/opt/mpluginv4/lib",
  "/opt/apps/com.longmai.mpluginv4/files/lib",
  "/usr/lib64",
  "/usr/lib",
];
const GM3000_LINUX_PKCS11_DIRS = [
  "/opt/lm-gm3000user/lib",
  "/opt/lm-gm3000admin/lib",
  "/opt/apps/com.longmai.gm3000user/files/lib",
  "/opt/apps/com.longmai.gm3000admin/files/lib",
];

export const USB_KEY_MODELS: readonly UsbKeyModel[] = [
  {
    id: "longmai-gm3000",
    model: "龙脉 mToken GM3000",
    vendor: { zh: "龙脉科技", en: "Longmai Technology" },
    vendorId: "055c",
    productIds: ["e618", "db08", "f603", "2205"],
    libraries: {
      linux: {
        skf: located("libgm3000.1.0.so", GM3000_LINUX_SKF_DIRS),
        pkcs11: located("libgm3000_pkcs11.so", GM3000_LINUX_PKCS11_DIRS),
      },
      win32: {
        skf: [
          { file: "mtoken_gm3000.dll", dir: WINDOWS_SYSTEM32 },
          { file: "mtoken_gm3000.dll", dir: WINDOWS_SYSWOW64, build32: true },
        ],
        pkcs11: [{ file: "gm3000_pkcs11.dll" }],
      },
      darwin: { skf: [{ file: "libgm3000.1.0.dylib" }], pkcs11: [{ file: "libgm3000_pkcs11.dylib" }] },
    },
    download: "龙脉科技 GM3000 驱动（用户工具 / 证书工具安装包），http://www.longmai.com.cn；或向发证 CA 索取",
    source:
      "vid 055c: Longmai GM3000 SDK udev rule 90-mtoken.rules (github willyu2019/gm3000-sdk). pid e618: NETCA " +
      "installer NETCA_Devices(x86)_ LongMaiGM3000.iss idstring Vid_055C&Pid_E618 (github wuxiaoxia-stu/crypto); " +
      "db08: a GDCA SOF client script table (055c&db08 mtoken_gm3000.dll) and NETCA's LongMaiOTG idstring; " +
      "f603, 2205: a Longmai device-enumeration string 'gm3000,vid_055c&pid_db08,vid_055c&pid_e618|" +
      "vid_055c&pid_f603|vid_055c&pid_2205'. Linux: SDK readme (Kylin opt/lm-gm3000/lib, UOS " +
      "opt/apps/com.longmai.gm3000user/files/lib), the SDK's Kylin/UOS package ReadMe trees (user, admin, " +
      "mPluginV4: libgm3000.1.0.so + libgm3000_pkcs11.so), the Kylin user package postinst copying the SKF " +
      "library to /usr/lib64 or /usr/lib. Windows: NETCA installer puts the 32-bit mtoken_gm3000.dll in {sys} " +
      "(System32) on 32-bit and {syswow64} on 64-bit Windows; SDK names gm3000_pkcs11.dll. macOS: SDK file names.",
  },
  {
    id: "feitian-epass3000gm",
    model: "飞天 ePass3000GM",
    vendor: { zh: "飞天诚信", en: "Feitian Technologies" },
    vendorId: "096e",
    productIds: ["0309", "0811"],
    libraries: {
      linux: {
        skf: [
          { file: "libes_3000gm.so", dir: "/usr/lib64/kiran-authentication-devices-sdk/ukey/skf" },
          { file: "libes_3000gm.so.1.0.0" },
        ],
        pkcs11: [],
      },
      win32: { skf: [{ file: "ShuttleCsp11_3000GM.dll", dir: WINDOWS_SYSTEM32 }], pkcs11: [] },
      darwin: { skf: [{ file: "libes_3000gm.dylib" }], pkcs11: [] },
    },
    download: "飞天诚信 ePass3000GM 驱动，或向发证 CA 索取（" + BJCA_YZT_DOWNLOAD + "）",
    source:
      "096e:0309 'ePass3000GM' in usb.ids (Debian usb.ids 2025.07.26) and in NETCA's " +
      "NETCA_Devices_ FeitianEpass3000GM.iss, which lists vid_096E&Pid_0811 under the same driver class " +
      "(github wuxiaoxia-stu/crypto). Linux: KylinSec kiran-authentication-devices data/device.conf maps " +
      "096e:0309 to .../ukey/skf/libes_3000gm.so (github openeuler-mirror/kiran-authentication-devices); " +
      "libes_3000gm.so.1.0.0 is the name in Feitian's ePass3000GM-linux-20190117 package. Windows: SKF " +
      "clients load C:\\Windows\\System32\\ShuttleCsp11_3000GM.dll. macOS: libes_3000gm.dylib named in an SKF " +
      "service's provider config.",
  },
  {
    id: "linguo-lg3073",
    model: "林果 LG3073（北京一证通）",
    vendor: { zh: "林果", en: "LinGuo" },
    vendorId: "6588",
    productIds: ["1514"],
    libraries: {
      win32: {
        skf: [{ file: "lgu3073_p1514_gm.dll", dir: BJCA_DRIVER_X86, build32: true }, { file: "lgu3073_p1514_gm_x64.dll" }],
        pkcs11: [],
      },
    },
    download: BJCA_YZT_DOWNLOAD,
    source:
      "BJCA 证书应用环境 CertAppEnvV3.7.418.0052 Driver\\driver.ini section [LG3073]: type=SKF vid=0x6588 " +
      "pid=0x1514 dll=lgu3073_p1514_gm.dll, the DLL in Driver\\x86 (quoted in a public USBKey manager's BJCA " +
      "notes); also a GDCA SOF client script (DEV_BJCA_LINGUO 6588&1514). Install root C:\\Program Files " +
      "(x86)\\BJCAClient\\CertAppEnvV3.8\\Program seen in code importing XTXAppCOM.dll. x64 name: an SKF " +
      "tool's installer ships lgu3073_p1514_gm_x64.dll.",
  },
  {
    id: "watchdata-usk218-bjca",
    model: "握奇 USK218（北京一证通）",
    vendor: { zh: "握奇", en: "WatchData" },
    vendorId: "22fb",
    productIds: ["1014"],
    libraries: {
      win32: {
        skf: [{ file: "USK218_GM.dll", dir: BJCA_DRIVER_X86, build32: true }, { file: "USK218_GM_x64.dll" }],
        pkcs11: [],
      },
    },
    download: BJCA_YZT_DOWNLOAD,
    source:
      "BJCA CertAppEnvV3.7.418.0052 Driver\\driver.ini section [ZTXA]: type=SKFGB vid=0x22FB pid=0x1014 " +
      "dll=USK218_GM.dll; the same driver folder lists USK218_GM.dll as 握奇 USK218 (BJCA notes as above); a " +
      "GDCA SOF client script (DEV_BJCA_ZTXA 22fb&1014 USK218_GM.dll); a USB-key tool naming 'WatchData " +
      "USK218'. x64 name: an SKF test program loading USK218_GM_x64.dll.",
  },
  {
    id: "haitai-sm2",
    model: "海泰 SM2 Key（HaiKey）",
    vendor: { zh: "海泰方圆", en: "Haitai" },
    vendorId: "5448",
    productIds: ["0103", "0003"],
    libraries: {
      win32: {
        skf: [
          { file: "SKFAPI20524.dll", dir: WINDOWS_SYSTEM32 },
          { file: "SKFAPI20524.dll", dir: WINDOWS_SYSWOW64, build32: true },
          { file: "SKFAPI20538.dll" },
        ],
        pkcs11: [],
      },
    },
    download: "海泰 Key 的驱动随发证 CA 分发（SKF 库名带 CA 定制编号，如 SKFAPI20524.dll）；向发证 CA 索取",
    source:
      "5448:0103: NETCA Netca_Devices_HTSM2.iss idstring vid_5448&pid_0103, installing SKFAPI20524.dll to " +
      "{sys} (64-bit build on 64-bit Windows) and the 32-bit build to {syswow64} (github wuxiaoxia-stu/crypto). " +
      "5448:0003: a GDCA SOF client script (DEV_SZCA_HAITAI 5448&0003 SKFAPI20538.dll).",
  },
  {
    id: "watchdata-ccid-key",
    model: "握奇 Watchdata USB Key（CCID）",
    vendor: { zh: "握奇", en: "WatchData" },
    vendorId: "163c",
    productIds: ["0407", "0417", "0418"],
    libraries: { linux: NO_LIBRARIES, win32: NO_LIBRARIES, darwin: NO_LIBRARIES },
    download: "握奇 Key 的驱动随发证 CA 分发；向发证 CA 索取",
    source: "libccid 1.5.2 Info.plist (Debian): 0x163C 0x0407 / 0x0417 / 0x0418 'Watchdata USB Key'. No library established.",
  },
  {
    id: "huada-token",
    model: "华大 Token",
    vendor: { zh: "华大集成电路", en: "China Huada Integrated Circuit Design (CIDC)" },
    vendorId: "1677",
    productIds: ["0103"],
    libraries: { linux: NO_LIBRARIES, win32: NO_LIBRARIES, darwin: NO_LIBRARIES },
    download: "向发证 CA 索取该 Key 的驱动",
    source: "usb.ids (Debian usb.ids 2025.07.26): 1677 China Huada Integrated Circuit Design (Group), 0103 Token. No library established.",
  },
  {
    id: "huada-ukey-ci800-k18",
    model: "华大 uKeyCI800-K18",
    vendor: { zh: "华大集成电路", en: "China Huada Integrated Circuit Design (CIDC)" },
    vendorId: "1677",
    productIds: ["0025"],
    libraries: { linux: NO_LIBRARIES, win32: NO_LIBRARIES, darwin: NO_LIBRARIES },
    download: "向发证 CA 索取该 Key 的驱动",
    source: "libccid 1.5.2 Info.plist: 0x1677 0x0025 'HDZB uKeyCI800-K18'; vendor 1677 per usb.ids. No library established.",
  },
  {
    id: "yuweng-ukey",
    model: "渔翁 UKey",
    vendor: { zh: "渔翁", en: "YuWeng" },
    vendorId: "4612",
    productIds: ["04b4"],
    libraries: {
      linux: { skf: [{ file: "libGDBapi.so", dir: "/usr/lib64/kiran-authentication-devices-sdk/ukey/skf" }], pkcs11: [] },
    },
    download: "向发证 CA 或渔翁索取该 Key 的驱动",
    source:
      "KylinSec kiran-authentication-devices data/device.conf [fish-skf] 'YuWeng UKey' Vid=4612 Pid=04b4 " +
      "LibPath=/usr/lib64/kiran-authentication-devices-sdk/ukey/skf/libGDBapi.so.",
  },
];
