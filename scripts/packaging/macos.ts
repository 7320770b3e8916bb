/**
 * The macOS installer package (.pkg, built with Apple's pkgbuild on a macOS runner by the release
 * workflow; the tree itself is staged and checked anywhere):
 *   /Library/Application Support/yzt-bridge/   host payload, bin/node, the launcher, install.json
 *   each browser's system NativeMessagingHosts directory   the host manifest
 *   Chrome's and Edge's "External Extensions"/<id>.json    the extension from the browser's store (macOS
 *                                                          browsers take external extensions from their
 *                                                          stores only)
 *   /usr/local/bin/yzt                                     the CLI
 * Firefox on macOS reads policies from inside its signed app bundle, which a package must not change:
 * there the extension comes from the signed .xpi or addons.mozilla.org (README).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";
import { browserLocations, familyOf } from "../../native-host/install/browsers.js";
import { hostManifest } from "../../native-host/install/host-manifest.js";
import type { InstallRecord } from "../../native-host/install/installer.js";
import { builtChromeManifest, json, normalise, Stage, stageHostPayload, stageUnixLaunchers } from "./stage.js";
import { publishedIds, storeIdFile, storeIds } from "../../native-host/install/extension-ids.js";

export const MAC_INSTALL_DIR = "/Library/Application Support/yzt-bridge";
const STORE_UPDATE_URLS = {
  "/Library/Application Support/Google/Chrome/External Extensions": "https://clients2.google.com/service/update2/crx",
  "/Library/Application Support/Microsoft/Edge/External Extensions": "https://edge.microsoft.com/extensionwebstorebase/v1/crx",
};

export interface MacTreeInput {
  root: string;
  stage: string;
  version: string;
  node: string;
  sourceDateEpoch: number;
}

export function stageMacTree(input: MacTreeInput): { files: string[]; chromeId: string } {
  const stage = new Stage(input.stage);
  const { chromeId } = builtChromeManifest(input.root);
  stageHostPayload(stage, MAC_INSTALL_DIR, { root: input.root, version: input.version, runtime: { from: input.node, to: "bin/node" } });
  const { node, entry, launcher, cli } = stageUnixLaunchers(stage, MAC_INSTALL_DIR);
  stage.link("/usr/local/bin/yzt", cli);
  const ids = publishedIds(input.root, { chrome: chromeId });
  const others = storeIds(ids);
  stage.write(`${MAC_INSTALL_DIR}/extension-ids.json`, json(storeIdFile(ids)));
  const record: InstallRecord = { scope: "system", platform: "darwin", launcher, node, entry, chromeId, browsers: [], ...(others.length > 0 ? { storeIds: others } : {}) };
  for (const location of browserLocations("darwin", "system")) {
    const manifestPath = `${location.manifestDir}/${HOST_NAME}.json`;
    stage.write(manifestPath, json(hostManifest(familyOf(location.browser), launcher, chromeId, others)));
    record.browsers.push({ browser: location.browser, manifestPath });
  }
  stage.write(`${MAC_INSTALL_DIR}/install.json`, json(record));
  for (const [dir, url] of Object.entries(STORE_UPDATE_URLS)) stage.write(`${dir}/${chromeId}.json`, json({ external_update_url: url }));
  normalise(input.stage, input.sourceDateEpoch);
  return { files: stage.files, chromeId };
}

export function buildMacPkg(input: MacTreeInput & { work: string; output: string }): string {
  stageMacTree(input);
  const scripts = join(input.work, "scripts");
  mkdirSync(scripts, { recursive: true });
  const postinstall = join(scripts, "postinstall");
  writeFileSync(postinstall, `#!/bin/sh\necho "yzt-bridge: 环境检测 / environment check"\n'${MAC_INSTALL_DIR}/bin/yzt' doctor --system || true\nexit 0\n`);
  chmodSync(postinstall, 0o755);
  execFileSync("pkgbuild", ["--root", input.stage, "--identifier", "org.yztbridge.yzt-bridge", "--version", input.version, "--install-location", "/", "--scripts", scripts, input.output], { stdio: "pipe" });
  return input.output;
}
