/**
 * The Windows installer: stages the payload the .nsi expects (host bundle, Node runtime, pkcs11js,
 * launchers, host manifests with paths relative to themselves, the .xpi) and runs makensis.
 * The Node runtime and the pkcs11js addon must be Windows builds (YZT_WINDOWS_PAYLOAD: a directory with
 * node.exe and pkcs11.node, made on a Windows runner by the release workflow). Without them the script
 * is compiled against this machine's Linux files: that checks the installer builds, nothing more, and the
 * result is never shipped.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import { FIREFOX_EXTENSION_ID, hostManifest } from "../../native-host/install/host-manifest.js";
import { builtChromeManifest, json, Stage, stageHostPayload } from "./stage.js";

export interface NsisInput {
  root: string;
  version: string;
  work: string;
  xpi: Buffer;
  output: string;
  /** Windows node.exe, pkcs11.node and koffi-win32-x64/ (koffi's binary package); absent: compile check with this machine's files. */
  windowsPayload?: string;
}

export function buildNsisInstaller(input: NsisInput): string {
  const payload = join(input.work, "payload");
  const stage = new Stage(payload);
  const { chromeId } = builtChromeManifest(input.root);
  const windows = input.windowsPayload;
  stageHostPayload(stage, "", {
    root: input.root,
    version: input.version,
    runtime: { from: windows ? join(windows, "node.exe") : process.execPath, to: "node.exe" },
    ...(windows ? { addonBinary: join(windows, "pkcs11.node"), koffiPlatform: join(windows, "koffi-win32-x64") } : {}),
  });
  // %~dp0 is the folder of the .bat itself: the install folder may be anywhere.
  stage.write("yzt-host.bat", '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\main.js" %*\r\n');
  stage.write("yzt.cmd", '@echo off\r\n"%~dp0node.exe" "%~dp0dist\\host\\yzt.js" %*\r\n');
  // Chrome and Firefox on Windows resolve a relative host path against the manifest's own folder.
  for (const family of ["chromium", "firefox"] as const) stage.write(`yzt-bridge-${family}.json`, json(hostManifest(family, "yzt-host.bat", chromeId)));
  stage.write("extension/yzt-bridge-firefox.xpi", input.xpi);

  const defines = {
    VERSION: input.version, PAYLOAD: payload, OUTFILE: input.output, CHROME_ID: chromeId, FIREFOX_ID: FIREFOX_EXTENSION_ID, HOST_NAME,
  };
  const args = [...Object.entries(defines).map(([name, value]) => `-D${name}=${value}`), ...(windows ? [] : ["-DFAST"]), "-V2", join(input.root, "packaging", "windows", "yzt-bridge.nsi")];
  execFileSync("makensis", args, { stdio: "pipe", maxBuffer: 64 * 1024 * 1024 });
  return input.output;
}
