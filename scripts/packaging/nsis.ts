/**
 * The Windows installer: stages the payload the .nsi expects (host bundle, Node runtime, pkcs11js,
 * launchers, host manifests with paths relative to themselves, the .xpi) and runs makensis.
 * The Node runtime and the pkcs11js addon must be Windows builds (YZT_WINDOWS_PAYLOAD: a directory with
 * node.exe and pkcs11.node, made on a Windows runner by the release workflow). Without them the script
 * is compiled against this machine's Linux files: that checks the installer builds, nothing more, and the
 * result is never shipped.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import { FIREFOX_EXTENSION_ID, chromeExtensionIdFromKey, hostManifest } from "../../native-host/install/host-manifest.js";

export interface NsisInput {
  root: string;
  version: string;
  work: string;
  xpi: Buffer;
  output: string;
  /** Windows node.exe and pkcs11.node; absent: compile check with this machine's files. */
  windowsPayload?: string;
}

function put(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

export function buildNsisInstaller(input: NsisInput): string {
  const payload = join(input.work, "payload");
  const builtManifest = JSON.parse(readFileSync(join(input.root, "dist", "extension-chrome", "manifest.json"), "utf8")) as { key: string };
  const chromeId = chromeExtensionIdFromKey(builtManifest.key);
  put(join(payload, "package.json"), JSON.stringify({ name: "yzt-bridge", version: input.version, private: true, type: "module" }, null, 2) + "\n");
  put(join(payload, "manifest.json"), JSON.stringify(builtManifest, null, 2) + "\n");
  cpSync(join(input.root, "dist", "host"), join(payload, "dist", "host"), { recursive: true });
  const addon = join(input.root, "node_modules", "pkcs11js");
  for (const name of ["package.json", "index.js", "LICENSE"]) put(join(payload, "node_modules", "pkcs11js", name), readFileSync(join(addon, name)));
  const windows = input.windowsPayload;
  const runtime = windows ? join(windows, "node.exe") : process.execPath;
  const addonBinary = windows ? join(windows, "pkcs11.node") : join(addon, "build", "Release", "pkcs11.node");
  for (const file of [runtime, addonBinary]) if (!existsSync(file)) throw new Error(`Windows payload file missing: ${file}`);
  copyFileSync(runtime, join(payload, "node.exe"));
  mkdirSync(join(payload, "node_modules", "pkcs11js", "build", "Release"), { recursive: true });
  copyFileSync(addonBinary, join(payload, "node_modules", "pkcs11js", "build", "Release", "pkcs11.node"));
  // %~dp0 is the folder of the .bat itself: the install folder may be anywhere.
  put(join(payload, "yzt-host.bat"), '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\main.js" %*\r\n');
  put(join(payload, "yzt.cmd"), '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\yzt.js" %*\r\n');
  // Chrome and Firefox on Windows resolve a relative host path against the manifest's own folder.
  put(join(payload, "manifests", "chromium.json"), JSON.stringify(hostManifest("chromium", "..\\yzt-host.bat", chromeId), null, 2) + "\n");
  put(join(payload, "manifests", "firefox.json"), JSON.stringify(hostManifest("firefox", "..\\yzt-host.bat", chromeId), null, 2) + "\n");
  put(join(payload, "extension", "yzt-bridge-firefox.xpi"), input.xpi);

  const defines = {
    VERSION: input.version, PAYLOAD: payload, OUTFILE: input.output, CHROME_ID: chromeId, FIREFOX_ID: FIREFOX_EXTENSION_ID, HOST_NAME,
  };
  const args = [...Object.entries(defines).map(([name, value]) => `-D${name}=${value}`), ...(windows ? [] : ["-DFAST"]), "-V2", join(input.root, "packaging", "windows", "yzt-bridge.nsi")];
  execFileSync("makensis", args, { stdio: "pipe", maxBuffer: 64 * 1024 * 1024 });
  return input.output;
}
