import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realFiles, type FileProbe } from "../../native-host/token/modules.js";
import {
  identifyUsbKeys,
  knownSkfLibraries,
  MAX_SYSFS_TEXT_CHARS,
  modelOf,
  readUsbDevices,
  USB_KEY_MODELS,
  type UsbDevice,
} from "../../native-host/token/usb-keys.js";

const SYSFS = "/sys/bus/usb/devices";

/**
 * Files by path, POSIX or Windows. Content "→/other" makes a symlink to /other; equal contents are copies of
 * one library; an Error is a file that exists but cannot be read. Directories are implied by the paths.
 */
function fakeFiles(files: Record<string, string | Error>): FileProbe {
  const resolve = (path: string): string => {
    const content = files[path];
    return typeof content === "string" && content.startsWith("→") ? resolve(content.slice(1)) : path;
  };
  return {
    exists: (path) => Object.hasOwn(files, path),
    listDir: (dir) => {
      const separator = dir.includes("\\") ? "\\" : "/";
      const prefix = dir.endsWith(separator) ? dir : dir + separator;
      const names = Object.keys(files)
        .filter((path) => path.startsWith(prefix))
        .map((path) => path.slice(prefix.length).split(separator)[0] ?? "");
      return [...new Set(names)];
    },
    readText: (path) => {
      const content = files[resolve(path)];
      if (content === undefined) throw new Error(`ENOENT: ${path}`);
      if (content instanceof Error) throw content;
      return content;
    },
    identity: (path) => {
      const content = files[resolve(path)];
      return typeof content === "string" ? `content:${content}` : `path:${resolve(path)}`;
    },
  };
}

/** A sysfs device directory: the text files the kernel writes, each ending in a newline. */
function sysfsDevice(name: string, attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([file, value]) => [`${SYSFS}/${name}/${file}`, `${value}\n`]));
}

const gm3000 = sysfsDevice("1-1", { idVendor: "055c", idProduct: "e618", manufacturer: "Longmai", product: "mToken GM3000", serial: "GM3000SN0001" });
const mouse = sysfsDevice("1-2", { idVendor: "046d", idProduct: "c077", manufacturer: "Logitech", product: "USB Optical Mouse" });
const epass = sysfsDevice("2-1", { idVendor: "096e", idProduct: "0309", product: "ePass3000GM", serial: "FT0955381103" });
const rootHub = sysfsDevice("usb1", { idVendor: "1d6b", idProduct: "0002", product: "xHCI Host Controller" });
/** Interfaces of a device are listed too; they have no idVendor. */
const gm3000Interface = { [`${SYSFS}/1-1:1.0/bInterfaceClass`]: "08\n" };

const GM3000_UOS_SKF = "/opt/apps/com.longmai.gm3000user/files/lib/libgm3000.1.0.so";
const GM3000_UOS_PKCS11 = "/opt/apps/com.longmai.gm3000user/files/lib/libgm3000_pkcs11.so";
const GM3000_KYLIN_SKF = "/opt/lm-gm3000/lib/libgm3000.1.0.so";
const GM3000_WINDOWS_SKF = "C:\\Windows\\System32\\mtoken_gm3000.dll";
const EPASS_KYLINSEC_SKF = "/usr/lib64/kiran-authentication-devices-sdk/ukey/skf/libes_3000gm.so";

function device(vendorId: string, productId: string, serial?: string): UsbDevice {
  return { path: `${SYSFS}/x`, vendorId, productId, ...(serial ? { serial } : {}) };
}

describe("reading USB devices from sysfs", () => {
  it("reads ids, manufacturer, product and serial of every device, skipping interface directories", () => {
    const files = fakeFiles({ ...gm3000, ...gm3000Interface, ...mouse, ...rootHub });
    expect(readUsbDevices(SYSFS, files)).toEqual([
      { path: `${SYSFS}/1-1`, vendorId: "055c", productId: "e618", manufacturer: "Longmai", product: "mToken GM3000", serial: "GM3000SN0001" },
      { path: `${SYSFS}/1-2`, vendorId: "046d", productId: "c077", manufacturer: "Logitech", product: "USB Optical Mouse" },
      { path: `${SYSFS}/usb1`, vendorId: "1d6b", productId: "0002", product: "xHCI Host Controller" },
    ]);
  });

  it("ignores devices with a missing, unreadable or malformed id instead of throwing", () => {
    const files = fakeFiles({
      ...gm3000,
      ...sysfsDevice("1-3", { idVendor: "055c" }),
      ...sysfsDevice("1-4", { idVendor: "zzzz", idProduct: "e618" }),
      ...sysfsDevice("1-5", { idVendor: "055c", idProduct: "\u0000\u0001\u00ff\u00fe" }),
      ...sysfsDevice("1-6", { idVendor: "055c5", idProduct: "e618" }),
      [`${SYSFS}/1-7/idVendor`]: new Error("EACCES: permission denied"),
      [`${SYSFS}/1-7/idProduct`]: "e618\n",
    });
    expect(() => readUsbDevices(SYSFS, files)).not.toThrow();
    expect(readUsbDevices(SYSFS, files).map((d) => d.path)).toEqual([`${SYSFS}/1-1`]);
  });

  it("reads ids case-insensitively and reports them in lower case", () => {
    const files = fakeFiles(sysfsDevice("3-1", { idVendor: "096E", idProduct: "0309" }));
    expect(readUsbDevices(SYSFS, files)).toEqual([{ path: `${SYSFS}/3-1`, vendorId: "096e", productId: "0309" }]);
  });

  it("keeps a device whose text files are garbage, without the garbage: control characters go, length is capped, empty is absent", () => {
    const files = fakeFiles({
      ...sysfsDevice("1-1", { idVendor: "055c", idProduct: "e618", product: "mToken\u0000GM3000\u0007", serial: "S".repeat(5000), manufacturer: "\u0000\u0000" }),
    });
    const [read] = readUsbDevices(SYSFS, files);
    expect(read?.product).toBe("mToken GM3000");
    expect(read?.serial?.length).toBe(MAX_SYSFS_TEXT_CHARS);
    expect(read).not.toHaveProperty("manufacturer");
  });

  it("returns nothing when there is no sysfs (not Linux, or a container without /sys)", () => {
    expect(readUsbDevices("/no/such/dir", fakeFiles({}))).toEqual([]);
    expect(readUsbDevices(join(tmpdir(), "yzt-no-such-sysfs"), realFiles)).toEqual([]);
  });

  it("reads a sysfs-shaped directory on the real file system", () => {
    const root = mkdtempSync(join(tmpdir(), "yzt-sysfs-"));
    try {
      for (const [name, attributes] of Object.entries({
        "1-1": { idVendor: "055c\n", idProduct: "db08\n", serial: "OLDGM3000\n" },
        "1-1:1.0": { bInterfaceClass: "08\n" },
        "1-2": { idVendor: "046d\n" },
      })) {
        mkdirSync(join(root, name));
        for (const [file, text] of Object.entries(attributes)) writeFileSync(join(root, name, file), text);
      }
      expect(readUsbDevices(root, realFiles)).toEqual([{ path: join(root, "1-1"), vendorId: "055c", productId: "db08", serial: "OLDGM3000" }]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("identifying inserted keys and their drivers", () => {
  it("names a GM3000 whose driver is installed, with its SKF library and PKCS#11 module, and ignores the mouse", () => {
    const files = fakeFiles({ ...gm3000, ...mouse, [GM3000_UOS_SKF]: "skf bytes", [GM3000_UOS_PKCS11]: "p11 bytes" });
    const keys = identifyUsbKeys(readUsbDevices(SYSFS, files), "linux", files);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      modelId: "longmai-gm3000",
      model: "龙脉 mToken GM3000",
      vendor: "龙脉科技 Longmai Technology",
      usb: { vendorId: "055c", productId: "e618", serial: "GM3000SN0001" },
      skfLibraries: [GM3000_UOS_SKF],
      pkcs11Libraries: [GM3000_UOS_PKCS11],
      build32Libraries: [],
      missingDriver: false,
    });
  });

  it("reports a key whose driver is missing, with a hint naming the model and the files its driver installs", () => {
    const files = fakeFiles({ ...epass, ...mouse, [GM3000_UOS_SKF]: "a GM3000 driver, not ePass's" });
    const [key] = identifyUsbKeys(readUsbDevices(SYSFS, files), "linux", files);
    expect(key).toMatchObject({ modelId: "feitian-epass3000gm", skfLibraries: [], pkcs11Libraries: [], missingDriver: true });
    expect(key?.expectedFiles).toContain("libes_3000gm.so");
    expect(key?.installHint).toContain("ePass3000GM");
    expect(key?.installHint).toContain("libes_3000gm.so");
  });

  it("tells an installed key from a missing one when both are plugged in", () => {
    const files = fakeFiles({ ...gm3000, ...epass, [GM3000_KYLIN_SKF]: "skf bytes" });
    const keys = identifyUsbKeys(readUsbDevices(SYSFS, files), "linux", files);
    expect(keys.map((k) => [k.modelId, k.missingDriver])).toEqual([
      ["longmai-gm3000", false],
      ["feitian-epass3000gm", true],
    ]);
  });

  it("looks only at the paths of the platform it runs on", () => {
    const files = fakeFiles({ [GM3000_KYLIN_SKF]: "linux skf", [GM3000_WINDOWS_SKF]: "windows skf" });
    const key = (platform: NodeJS.Platform) => identifyUsbKeys([device("055c", "e618")], platform, files)[0];
    expect(key("linux")?.skfLibraries).toEqual([GM3000_KYLIN_SKF]);
    expect(key("win32")?.skfLibraries).toEqual([GM3000_WINDOWS_SKF]);
    expect(key("darwin")).toMatchObject({ skfLibraries: [], missingDriver: true });
    expect(key("darwin")?.expectedFiles).toEqual(["libgm3000.1.0.dylib", "libgm3000_pkcs11.dylib"]);
    expect(key("freebsd")).toMatchObject({ skfLibraries: [], pkcs11Libraries: [], missingDriver: true, expectedFiles: [] });
  });

  it("lists a library once when the installer also copied or linked it elsewhere", () => {
    const files = fakeFiles({
      "/opt/lm-gm3000user/lib/libgm3000.1.0.so": "gm3000 skf bytes",
      "/usr/lib64/libgm3000.1.0.so": "gm3000 skf bytes",
      "/usr/lib/libgm3000.1.0.so": "→/opt/lm-gm3000user/lib/libgm3000.1.0.so",
    });
    expect(identifyUsbKeys([device("055c", "e618")], "linux", files)[0]?.skfLibraries).toEqual(["/opt/lm-gm3000user/lib/libgm3000.1.0.so"]);
  });

  it("finds BJCA's driver in a versioned install directory, and counts a 32-bit-only driver as missing for an installation without a 32-bit driver runtime", () => {
    const lg3073x86 = "C:\\Program Files (x86)\\BJCAClient\\CertAppEnvV3.8\\Driver\\x86\\lgu3073_p1514_gm.dll";
    const files = fakeFiles({ [lg3073x86]: "32-bit skf", "C:\\Program Files (x86)\\BJCAClient\\CertAppEnvV3.8\\Program\\XTXAppCOM.dll": "com" });
    const [key] = identifyUsbKeys([device("6588", "1514")], "win32", files, USB_KEY_MODELS, false);
    expect(key).toMatchObject({ modelId: "linguo-lg3073", skfLibraries: [], build32Libraries: [lg3073x86], missingDriver: true });
    expect(key?.installHint).toContain("https://2380807.com/html/faq.html");
    // The Windows installer ships one (runtime-ia32): the same 32-bit driver is then this key's library.
    const [served] = identifyUsbKeys([device("6588", "1514")], "win32", files, USB_KEY_MODELS, true);
    expect(served).toMatchObject({ skfLibraries: [lg3073x86], build32Libraries: [], missingDriver: false });
  });

  it("reports each of two identical keys, by serial", () => {
    const keys = identifyUsbKeys([device("055c", "e618", "A"), device("055c", "db08", "B")], "linux", fakeFiles({}));
    expect(keys.map((k) => [k.modelId, k.usb.serial])).toEqual([
      ["longmai-gm3000", "A"],
      ["longmai-gm3000", "B"],
    ]);
  });

  it("needs the product id too: another device of a key vendor is not a key", () => {
    expect(modelOf({ vendorId: "055c", productId: "0001" })).toBeUndefined();
    expect(modelOf({ vendorId: "096e", productId: "0807" })?.id).toBeUndefined();
    expect(modelOf({ vendorId: "055C", productId: "E618" })?.id).toBe("longmai-gm3000");
  });
});

describe("known SKF libraries for discovery", () => {
  it("lists every installed SKF library of every model, once each, leaving out PKCS#11 modules", () => {
    const files = fakeFiles({
      [GM3000_KYLIN_SKF]: "gm3000 skf bytes",
      "/usr/lib/libgm3000.1.0.so": "→/opt/lm-gm3000/lib/libgm3000.1.0.so",
      "/opt/lm-gm3000user/lib/libgm3000_pkcs11.so": "gm3000 p11 bytes",
      [EPASS_KYLINSEC_SKF]: "epass skf bytes",
    });
    expect(knownSkfLibraries("linux", files)).toEqual([GM3000_KYLIN_SKF, EPASS_KYLINSEC_SKF]);
  });

  it("on Windows offers 64-bit libraries, and a model's 32-bit build only where it has no 64-bit one and a 32-bit driver runtime is installed", () => {
    const usk218x86 = "C:\\Program Files (x86)\\BJCAClient\\CertAppEnvV3.7.418.0052\\Driver\\x86\\USK218_GM.dll";
    const files = fakeFiles({
      [GM3000_WINDOWS_SKF]: "gm3000 64",
      "C:\\Windows\\SysWOW64\\mtoken_gm3000.dll": "gm3000 32",
      "C:\\Windows\\System32\\ShuttleCsp11_3000GM.dll": "epass 64",
      [usk218x86]: "usk218 32",
    });
    expect(knownSkfLibraries("win32", files, USB_KEY_MODELS, false)).toEqual([GM3000_WINDOWS_SKF, "C:\\Windows\\System32\\ShuttleCsp11_3000GM.dll"]);
    // GM3000's 64-bit build wins over its 32-bit one (the same keys); USK218 has only its 32-bit build.
    expect(knownSkfLibraries("win32", files, USB_KEY_MODELS, true)).toEqual([GM3000_WINDOWS_SKF, "C:\\Windows\\System32\\ShuttleCsp11_3000GM.dll", usk218x86]);
  });

  it("finds nothing on a machine without drivers or on an OS the table does not cover", () => {
    expect(knownSkfLibraries("linux", fakeFiles({}))).toEqual([]);
    expect(knownSkfLibraries("freebsd", fakeFiles({ [GM3000_KYLIN_SKF]: "x" }))).toEqual([]);
  });
});

describe("the key model table", () => {
  const pairs = USB_KEY_MODELS.flatMap((model) => model.productIds.map((productId) => `${model.vendorId}:${productId}`));

  it("writes every USB id as four lower-case hex digits, as sysfs does", () => {
    for (const id of pairs) expect(id).toMatch(/^[0-9a-f]{4}:[0-9a-f]{4}$/);
  });

  it("maps each vendor:product id to one model only", () => {
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(new Set(USB_KEY_MODELS.map((model) => model.id)).size).toBe(USB_KEY_MODELS.length);
  });

  it("says where every entry's facts come from, and how to get its driver", () => {
    for (const model of USB_KEY_MODELS) {
      expect(model.source.length, model.id).toBeGreaterThan(20);
      expect(model.download.length, model.id).toBeGreaterThan(5);
    }
  });

  it("gives absolute directories and library file names that fit each OS", () => {
    const fileName = { linux: /\.so(\.[0-9]+)*$/, darwin: /\.dylib$/, win32: /\.dll$/i } as const;
    const absoluteDir = { linux: /^\//, darwin: /^\//, win32: /^[A-Z]:\\/ } as const;
    for (const model of USB_KEY_MODELS) {
      for (const platform of ["linux", "darwin", "win32"] as const) {
        const libraries = model.libraries[platform];
        for (const location of [...(libraries?.skf ?? []), ...(libraries?.pkcs11 ?? [])]) {
          expect(location.file, model.id).toMatch(fileName[platform]);
          if (location.dir !== undefined) expect(location.dir, model.id).toMatch(absoluteDir[platform]);
        }
      }
    }
  });

  it("knows where 龙脉 GM3000's SKF library lands on Kylin and UOS", () => {
    const linux = USB_KEY_MODELS.find((model) => model.id === "longmai-gm3000")?.libraries.linux?.skf ?? [];
    const paths = linux.map((location) => `${location.dir}/${location.file}`);
    expect(paths).toContain("/opt/lm-gm3000/lib/libgm3000.1.0.so");
    expect(paths).toContain("/opt/apps/com.longmai.gm3000user/files/lib/libgm3000.1.0.so");
  });
});
