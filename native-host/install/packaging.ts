/**
 * `yzt package` and `yzt policies`: the extension as .zip (Chromium browsers) and .xpi (Firefox), and the
 * enterprise policy files an IT department deploys so every machine gets the extension and may talk to
 * the native host: Chrome ExtensionInstallForcelist + NativeMessagingAllowlist (Linux/macOS JSON and a
 * Windows .reg), Firefox policies.json.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import { FIREFOX_EXTENSION_ID } from "./host-manifest.js";
import { zipDirectory } from "./zip.js";

export interface PackageResult {
  chromeZip: string;
  firefoxXpi: string;
}

export function packageExtension(root: string, version: string, outDir: string): PackageResult {
  mkdirSync(outDir, { recursive: true });
  const chrome = join(root, "dist", "extension-chrome");
  const firefox = join(root, "dist", "extension-firefox");
  for (const dir of [chrome, firefox]) {
    if (!existsSync(join(dir, "manifest.json"))) throw new Error(`${dir} is not built: run "npm run build" first`);
  }
  const chromeZip = join(outDir, `yzt-bridge-chrome-${version}.zip`);
  const firefoxXpi = join(outDir, `yzt-bridge-firefox-${version}.xpi`);
  zipDirectory(chrome, chromeZip);
  zipDirectory(firefox, firefoxXpi);
  return { chromeZip, firefoxXpi };
}

export interface PolicyOptions {
  chromeId: string;
  /** Chrome update manifest URL of the self-hosted extension (or the Web Store's). */
  chromeUpdateUrl: string;
  /** Where Firefox downloads the .xpi (https:// or file://). */
  firefoxXpiUrl: string;
}

export function chromePolicy(options: PolicyOptions): Record<string, unknown> {
  return {
    ExtensionInstallForcelist: [`${options.chromeId};${options.chromeUpdateUrl}`],
    NativeMessagingAllowlist: [HOST_NAME],
  };
}

export function firefoxPolicy(options: Pick<PolicyOptions, "firefoxXpiUrl">): Record<string, unknown> {
  return {
    policies: {
      ExtensionSettings: { [FIREFOX_EXTENSION_ID]: { installation_mode: "force_installed", install_url: options.firefoxXpiUrl } },
    },
  };
}

function chromeWindowsPolicyReg(options: PolicyOptions): string {
  const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return [
    "Windows Registry Editor Version 5.00",
    "",
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\ExtensionInstallForcelist]",
    `"1"="${escape(`${options.chromeId};${options.chromeUpdateUrl}`)}"`,
    "",
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\NativeMessagingAllowlist]",
    `"1"="${HOST_NAME}"`,
    "",
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\ExtensionInstallForcelist]",
    `"1"="${escape(`${options.chromeId};${options.chromeUpdateUrl}`)}"`,
    "",
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\NativeMessagingAllowlist]",
    `"1"="${HOST_NAME}"`,
    "",
  ].join("\r\n");
}

/** Writes the policy files into outDir, named for where they go; returns their paths. */
export function writePolicies(outDir: string, options: PolicyOptions): string[] {
  const files: Array<[string, string]> = [
    ["chrome-linux/etc/opt/chrome/policies/managed/yzt-bridge.json", JSON.stringify(chromePolicy(options), null, 2) + "\n"],
    ["chromium-linux/etc/chromium/policies/managed/yzt-bridge.json", JSON.stringify(chromePolicy(options), null, 2) + "\n"],
    ["windows/yzt-bridge-chrome-edge-policy.reg", chromeWindowsPolicyReg(options)],
    ["firefox/policies.json", JSON.stringify(firefoxPolicy(options), null, 2) + "\n"],
  ];
  return files.map(([relativePath, content]) => {
    const path = join(outDir, relativePath);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, content);
    return path;
  });
}
