/**
 * The Windows installer: stages the payload the .nsi expects — host bundle, the Windows Node runtime, koffi's
 * Windows binary, the PKCS#11 binding when a Windows build of it was given, the launchers, host manifests
 * with paths relative to themselves, the install records doctor reads, the .xpi and a README — and runs
 * makensis. The binaries come from windows-payload.ts (the npm registry, or the release runner's own
 * build); a staged file that is a Linux (ELF) binary stops the build, so nothing of this machine's slips in.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import { windowsHostKeys, WINDOWS_HOST_KEYS, type BrowserName, type Scope } from "../../native-host/install/browsers.js";
import { storeIdFile, storeIds, type PublishedIds } from "../../native-host/install/extension-ids.js";
import { FIREFOX_EXTENSION_ID, hostManifest } from "../../native-host/install/host-manifest.js";
import type { InstallRecord } from "../../native-host/install/installer.js";
import { json, Stage, stageHostPayload } from "./stage.js";
import type { WindowsPayload } from "./windows-payload.js";

export interface NsisInput {
  root: string;
  version: string;
  work: string;
  xpi: Buffer;
  xpiSigned: boolean;
  output: string;
  payload: WindowsPayload;
  ids: PublishedIds;
  /** zlib instead of solid LZMA (development builds: much faster, larger). */
  fast?: boolean;
}

/** The host manifests the installer registers, by browser family (the same file for every Chromium browser). */
const MANIFEST_FILES = { chromium: "yzt-bridge-chromium.json", firefox: "yzt-bridge-firefox.json" } as const;

/**
 * The install record `yzt doctor` reads for each scope, with paths relative to the install folder (the
 * installer renames the one of its scope to install.json; readRecord resolves them).
 */
export function windowsInstallRecord(scope: Scope, ids: PublishedIds): InstallRecord {
  const browsers = (Object.keys(WINDOWS_HOST_KEYS) as BrowserName[]).map((browser) => ({
    browser,
    manifestPath: browser === "firefox" ? MANIFEST_FILES.firefox : MANIFEST_FILES.chromium,
    registryKeys: windowsHostKeys(browser, scope, HOST_NAME),
  }));
  const others = storeIds(ids);
  return {
    scope, platform: "win32", launcher: "yzt-host.bat", node: "node.exe", entry: "dist\\host\\main.js", chromeId: ids.chrome, browsers,
    ...(others.length > 0 ? { storeIds: others } : {}),
  };
}

function readme(input: NsisInput): string {
  const lines = [
    "yzt-bridge 一证通桥接",
    "安装后请重新启动浏览器，然后插入一证通 USB Key。Edge 提示“已添加新的扩展”时请启用。",
    "After installing, restart the browser, then plug in the USB key. In Edge, turn on the extension it offers.",
    "环境检测 Environment check: yzt.cmd doctor",
  ];
  if (!input.payload.pkcs11Addon) {
    lines.push(
      "",
      "注意：此安装程序不含 PKCS#11 组件 (pkcs11js)：只能使用 SKF 驱动的 USB Key（Windows 上的国密 Key 均为 SKF）。正式发布版本包含该组件。",
      "Note: this build has no PKCS#11 binding (pkcs11js has no Windows binary on the npm registry): keys are driven",
      "through their SKF libraries only. Release installers, built on a Windows runner, carry it.",
    );
  }
  if (!input.payload.ia32) {
    lines.push(
      "",
      "注意：此安装程序不含 32 位驱动运行环境：只能使用 64 位的 USB Key 驱动 (SKF DLL)。",
      "Note: this build has no 32-bit driver runtime: only 64-bit vendor SKF DLLs can be used.",
    );
  }
  if (!input.xpiSigned) {
    lines.push("", "注意：此安装程序中的 Firefox 扩展未经 Mozilla 签名（开发版本），Firefox 不会安装它。", "Note: the Firefox extension here is not Mozilla-signed (a development build); Firefox will not install it.");
  }
  return lines.join("\r\n") + "\r\n";
}

const ELF_MAGIC = "\x7fELF";

function isElf(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString("latin1") === ELF_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function buildNsisInstaller(input: NsisInput): string {
  const payload = join(input.work, "payload");
  const stage = new Stage(payload);
  const { ids } = input;
  stageHostPayload(stage, "", {
    root: input.root,
    version: input.version,
    runtime: { from: input.payload.nodeExe, to: "node.exe" },
    addonBinary: input.payload.pkcs11Addon,
    koffiPlatforms: [input.payload.koffiPlatform, ...(input.payload.ia32 ? [input.payload.ia32.koffiPlatform] : [])],
    // Where the host looks for a driver runtime of another architecture (native-host/driver/launch.ts).
    driverRuntimes: input.payload.ia32 ? [{ from: input.payload.ia32.nodeExe, to: "runtime-ia32/node.exe" }] : [],
    runtimeWroteCodeCaches: false,
  });
  // %~dp0 is the folder of the .bat itself: the install folder may be anywhere.
  stage.write("yzt-host.bat", '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\main.js" %*\r\n');
  stage.write("yzt.cmd", '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\yzt.js" %*\r\n');
  // Chrome and Firefox on Windows resolve a relative host path against the manifest's own folder.
  for (const family of ["chromium", "firefox"] as const) stage.write(MANIFEST_FILES[family], json(hostManifest(family, "yzt-host.bat", ids.chrome, storeIds(ids))));
  for (const scope of ["user", "system"] as const) stage.write(scope === "user" ? "install-user.json" : "install-machine.json", json(windowsInstallRecord(scope, ids)));
  stage.write("extension-ids.json", json(storeIdFile(ids)));
  stage.write("extension/yzt-bridge-firefox.xpi", input.xpi);
  stage.write("README.txt", readme(input));
  const linux = stage.files.filter((path) => isElf(join(payload, path)));
  if (linux.length > 0) throw new Error(`the Windows payload holds Linux binaries: ${linux.join(", ")}`);

  const defines: Record<string, string> = {
    VERSION: input.version, PAYLOAD: payload, OUTFILE: input.output, CHROME_ID: ids.chrome, EDGE_ID: ids.edge, FIREFOX_ID: FIREFOX_EXTENSION_ID, HOST_NAME,
  };
  const flags = [...(input.payload.pkcs11Addon ? [] : ["-DNO_PKCS11"]), ...(input.fast ? ["-DFAST"] : [])];
  const args = [...Object.entries(defines).map(([name, value]) => `-D${name}=${value}`), ...flags, "-V2", join(input.root, "packaging", "windows", "yzt-bridge.nsi")];
  execFileSync("makensis", args, { stdio: "pipe", maxBuffer: 64 * 1024 * 1024 });
  return input.output;
}
