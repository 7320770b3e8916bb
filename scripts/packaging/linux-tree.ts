/**
 * The file tree a Linux package installs, staged under a directory that stands for "/":
 *   /opt/yzt-bridge/            the bundled host and CLI, their private Node runtime (bin/node), the
 *                               pkcs11js addon, the launcher browsers start, install.json (so `yzt doctor
 *                               --system` checks this registration), the signed CRX and the .xpi;
 *   /usr/bin/yzt                the CLI;
 *   /usr/lib{,64}/mozilla/native-messaging-hosts   Firefox's host manifest (the /etc ones for Chrome,
 *                               Chromium and Edge are copied by the maintainer scripts: EtcRegistration);
 *   /usr/share/{chromium,google-chrome,microsoft-edge}/extensions/<id>.json   external_crx for Chromium
 *                               browsers (the user's browser offers it; nothing is forced);
 *   /usr/share/browser/extensions/<id>.json   the same for the 统信 UOS browser (org.deepin.browser);
 *   /usr/lib/firefox{,-esr}/distribution/policies.json   Firefox ExtensionSettings force_installed;
 *   /etc/firefox/policies/{policies.json,yzt-bridge-firefox.xpi}   the same for Ubuntu's snap Firefox, which
 *                               reads no distribution/ folder of ours and sees of the host's files only
 *                               /etc/firefox/policies (its system-files plug): the .xpi goes there too.
 *                               Copied by the maintainer scripts, and only where no administrator's
 *                               policies.json is in the way (EtcRegistration.ownedIfSha256).
 * The same tree serves the .deb and the .rpm; only the Firefox manifest directories differ (lib64).
 */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { HOST_NAME } from "../../protocol/messages.js";
import { browserLocations, familyOf } from "../../native-host/install/browsers.js";
import { hostManifest } from "../../native-host/install/host-manifest.js";
import type { InstallRecord } from "../../native-host/install/installer.js";
import { firefoxPolicy } from "../../native-host/install/packaging.js";
import { archOfFile } from "../../native-host/driver/binary-arch.js";
import type { LinuxPayload } from "./linux-payload.js";
import { builtChromeManifest, json, normalise, Stage, stageHostPayload, stageUnixLaunchers } from "./stage.js";
import { publishedIds, storeIdFile, storeIds } from "../../native-host/install/extension-ids.js";

export const INSTALL_DIR = "/opt/yzt-bridge";
export const CRX_PATH = `${INSTALL_DIR}/extension/yzt-bridge-chrome.crx`;
export const XPI_PATH = `${INSTALL_DIR}/extension/yzt-bridge-firefox.xpi`;

/** Debian's architecture names, with the CPU each one's binaries must be built for (binary-arch.ts). */
export const LINUX_ARCHES = { amd64: "x64", arm64: "arm64" } as const;
export type LinuxArch = keyof typeof LINUX_ARCHES;

export interface LinuxTreeInput {
  /** Repository root (built: dist/host, dist/extension-chrome). */
  root: string;
  stage: string;
  version: string;
  format: "deb" | "rpm";
  /** The architecture's binaries: Node runtime (stripped on the way in), koffi, pkcs11js (linux-payload.ts). */
  payload: LinuxPayload;
  crx: Buffer;
  xpi: Buffer;
  /** Whether the .xpi is Mozilla-signed (only then does Firefox install it from the policy). */
  xpiSigned: boolean;
  sourceDateEpoch: number;
}

/**
 * A host manifest that must live under /etc. It is not a package file: dpkg never restores a conffile the
 * package's own removal deleted, so a reinstall would leave the browser without it. The package ships the
 * manifest under /opt and the maintainer scripts copy it into place and remove it again.
 */
export interface EtcRegistration {
  source: string;
  target: string;
  /**
   * A file an administrator may have written already (Firefox's system-wide policies.json): installed only where
   * none exists or it is ours (this SHA-256), removed only while it is still ours; another is left alone and
   * the install says what to add to it.
   */
  ownedIfSha256?: string;
}

/** A file the maintainer scripts put into each existing profile of a browser registered per user (maintainer-scripts.ts). */
export interface ProfileFile {
  /** Under INSTALL_DIR: no quotes or spaces (the maintainer scripts write it unquoted in a quoted script). */
  source: string;
  /** Relative to the profile directory. */
  path: string;
  /** Its content's SHA-256: a file at `path` is ours only while it has this one. */
  sha256: string;
}

export interface LinuxTree {
  chromeId: string;
  etcRegistrations: EtcRegistration[];
  profileFiles: ProfileFile[];
  /** Every path written, directories excluded, as installed ("/opt/…"). */
  files: string[];
}

/** Chromium-family directories whose <id>.json offers an external CRX (Chromium's own standalone dir). */
export const EXTERNAL_EXTENSION_DIRS = ["/usr/share/chromium/extensions", "/usr/share/google-chrome/extensions", "/usr/share/microsoft-edge/extensions", "/usr/share/browser/extensions"];
export const FIREFOX_POLICY_FILES = ["/usr/lib/firefox-esr/distribution/policies.json", "/usr/lib/firefox/distribution/policies.json"];
/** Firefox's system-wide policy directory: the one the snap reads. */
export const FIREFOX_ETC_POLICY_DIR = "/etc/firefox/policies";

function copyright(version: string): string {
  return [
    "yzt-bridge " + version,
    "",
    "Copyright 2026 the yzt-bridge developers. License: MIT (see below).",
    "",
    "Shipped with it, each under its own license:",
    "  /opt/yzt-bridge/bin/node                      Node.js runtime, MIT license and the licenses of its bundled",
    "                                                dependencies: https://github.com/nodejs/node/blob/main/LICENSE",
    "  /opt/yzt-bridge/node_modules/pkcs11js         pkcs11js (Peculiar Ventures), MIT",
    "  /opt/yzt-bridge/dist/host                     bundled graphene-pk11, pkijs, asn1js, @peculiar/webcrypto (MIT),",
    "                                                xml-crypto (MIT), @xmldom/xmldom (MIT)",
    "",
    "MIT License",
    "",
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and",
    "associated documentation files (the \"Software\"), to deal in the Software without restriction, including",
    "without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell",
    "copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the",
    "following conditions: The above copyright notice and this permission notice shall be included in all",
    "copies or substantial portions of the Software.",
    "",
    "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.",
    "",
  ].join("\n");
}

function changelog(version: string, epoch: number): Buffer {
  const date = new Date(epoch * 1000).toUTCString().replace("GMT", "+0000");
  const text = `yzt-bridge (${version}) stable; urgency=medium\n\n  * Release ${version}.\n\n -- yzt-bridge developers <maintainers@yztbridge.org>  ${date}\n`;
  // No name or time in the gzip header (the default has neither in Node): same input, same bytes.
  return gzipSync(text, { level: 9 });
}

export function stageLinuxTree(input: LinuxTreeInput): LinuxTree {
  const stage = new Stage(input.stage);
  const { chromeId } = builtChromeManifest(input.root);

  const { payload } = input;
  const binaries = stageHostPayload(stage, INSTALL_DIR, {
    root: input.root,
    version: input.version,
    runtime: { from: payload.node, to: "bin/node" },
    koffiPlatforms: [payload.koffiPlatform],
    addonBinary: payload.pkcs11Addon,
    runtimeWroteCodeCaches: payload.runtimeWroteCodeCaches,
  });
  // Debug symbols are most of a Node binary's size and no user needs them.
  execFileSync(payload.strip, ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", binaries.runtime, ...(binaries.addon ? [binaries.addon] : [])]);

  const { node, entry: hostEntry, launcher, cli } = stageUnixLaunchers(stage, INSTALL_DIR);
  stage.link("/usr/bin/yzt", cli);

  // Native-messaging manifests, one per directory (Brave reads Chrome's system directory).
  // Every published id may connect; installed, `yzt doctor` reads the same list from extension-ids.json.
  const ids = publishedIds(input.root, { chrome: chromeId });
  const others = storeIds(ids);
  stage.write(`${INSTALL_DIR}/extension-ids.json`, json(storeIdFile(ids)));
  const record: InstallRecord = { scope: "system", platform: "linux", launcher, node, entry: hostEntry, chromeId, browsers: [], ...(others.length > 0 ? { storeIds: others } : {}) };
  const written = new Set<string>();
  const etcRegistrations: EtcRegistration[] = [];
  for (const family of ["chromium", "firefox"] as const) {
    stage.write(`${INSTALL_DIR}/native-messaging-hosts/${family}.json`, json(hostManifest(family, launcher, chromeId, others)));
  }
  const chromiumManifest = json(hostManifest("chromium", launcher, chromeId, others));
  const locations = browserLocations("linux", "system");
  const firefoxDirs = input.format === "rpm" ? ["/usr/lib/mozilla/native-messaging-hosts", "/usr/lib64/mozilla/native-messaging-hosts"] : ["/usr/lib/mozilla/native-messaging-hosts"];
  for (const location of locations) {
    const dirs = location.browser === "firefox" ? firefoxDirs : [location.manifestDir];
    for (const dir of dirs) {
      const manifestPath = `${dir}/${HOST_NAME}.json`;
      record.browsers.push({ browser: location.browser, manifestPath });
      if (written.has(manifestPath)) continue;
      written.add(manifestPath);
      const family = familyOf(location.browser);
      if (manifestPath.startsWith("/etc/")) etcRegistrations.push({ source: `${INSTALL_DIR}/native-messaging-hosts/${family}.json`, target: manifestPath });
      else stage.write(manifestPath, json(hostManifest(family, launcher, chromeId, others)));
    }
  }
  stage.write(`${INSTALL_DIR}/install.json`, json(record));

  // The extension itself.
  stage.write(CRX_PATH, input.crx);
  stage.write(XPI_PATH, input.xpi);
  const externalExtension = json({ external_crx: CRX_PATH, external_version: input.version });
  for (const dir of EXTERNAL_EXTENSION_DIRS) stage.write(`${dir}/${chromeId}.json`, externalExtension);
  // Per profile for the forks registered per user: their host manifest, and the extension offered from the
  // profile's "External Extensions" folder, which Chromium builds on Linux read (Chromium's convention only).
  stage.write(`${INSTALL_DIR}/extension/external-extension.json`, externalExtension);
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const profileFiles: ProfileFile[] = [
    { source: `${INSTALL_DIR}/native-messaging-hosts/chromium.json`, path: `NativeMessagingHosts/${HOST_NAME}.json`, sha256: sha256(chromiumManifest) },
    { source: `${INSTALL_DIR}/extension/external-extension.json`, path: `External Extensions/${chromeId}.json`, sha256: sha256(externalExtension) },
  ];
  const policy = json(firefoxPolicy({ firefoxXpiUrl: `file://${XPI_PATH}` }));
  for (const file of FIREFOX_POLICY_FILES) stage.write(file, policy);
  const etcPolicy = json(firefoxPolicy({ firefoxXpiUrl: `file://${FIREFOX_ETC_POLICY_DIR}/yzt-bridge-firefox.xpi` }));
  stage.write(`${INSTALL_DIR}/firefox/policies.json`, etcPolicy);
  etcRegistrations.push(
    { source: XPI_PATH, target: `${FIREFOX_ETC_POLICY_DIR}/yzt-bridge-firefox.xpi` },
    { source: `${INSTALL_DIR}/firefox/policies.json`, target: `${FIREFOX_ETC_POLICY_DIR}/policies.json`, ownedIfSha256: createHash("sha256").update(etcPolicy).digest("hex") },
  );

  stage.write("/usr/share/doc/yzt-bridge/copyright", copyright(input.version));
  if (input.format === "deb") {
    stage.write("/usr/share/doc/yzt-bridge/changelog.gz", changelog(input.version, input.sourceDateEpoch));
    stage.write("/usr/share/lintian/overrides/yzt-bridge", LINTIAN_OVERRIDES);
  }
  stage.write(`${INSTALL_DIR}/README.txt`, README_TEXT + (binaries.addon ? "" : NO_PKCS11_TEXT) + (input.xpiSigned ? "" : UNSIGNED_XPI_TEXT));

  refuseForeignBinaries(input.stage, stage.files, payload.arch);
  normalise(input.stage, input.sourceDateEpoch);
  return { chromeId, etcRegistrations, profileFiles, files: stage.files };
}

/** The oldest glibc the packages support (control: `Depends: libc6 (>= 2.28)`; 统信 UOS 20, 麒麟 V10). */
export const OLDEST_GLIBC = "2.28";

/** The newest GLIBC_x.y symbol version an ELF file needs (readelf reads any architecture's). */
function newestGlibcNeeded(path: string): string | null {
  const versions = [...execFileSync("readelf", ["-V", "--wide", path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).matchAll(/Name: GLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((match) => match[1]!);
  return versions.sort(compareVersions).pop() ?? null;
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * Every ELF file staged must be built for the package's CPU (a binary of this machine's slipping into the arm64
 * tree stops the build) and load on the oldest glibc the package promises (an addon compiled on a newer
 * Debian picks newer symbol versions).
 */
function refuseForeignBinaries(stageRoot: string, files: string[], arch: LinuxArch): void {
  const problems = files.flatMap((path) => {
    const full = join(stageRoot, path);
    // Only ELF files name a CPU here; anything else (scripts, JSON, the CRX) has none.
    if (!lstatSync(full).isFile() || readFileSync(full).subarray(0, 4).toString("latin1") !== "\x7fELF") return [];
    const found = archOfFile(full);
    if (found !== LINUX_ARCHES[arch]) return [`${path} is built for ${found ?? "an unknown CPU"}`];
    const glibc = newestGlibcNeeded(full);
    return glibc !== null && compareVersions(glibc, OLDEST_GLIBC) > 0 ? [`${path} needs glibc ${glibc}`] : [];
  });
  if (problems.length > 0) throw new Error(`the ${arch} package would not run where it is meant to (${arch}, glibc ≥ ${OLDEST_GLIBC}): ${problems.join("; ")}`);
}

/** Sizes in KiB of the staged files (dpkg's Installed-Size). */
export function installedSizeKiB(stageRoot: string, files: string[]): number {
  return Math.ceil(files.reduce((sum, path) => sum + lstatSync(join(stageRoot, path)).size, 0) / 1024);
}


const LINTIAN_OVERRIDES = `# yzt-bridge is an add-on package distributed outside Debian: the FHS gives such packages /opt/<package>.
yzt-bridge: dir-or-file-in-opt *
# The package carries its own Node.js runtime (with its zlib) so that nothing on the user's PATH is needed.
yzt-bridge: embedded-library zlib *
# Google Chrome and Microsoft Edge read system native-messaging hosts only from these directories.
yzt-bridge: dir-or-file-in-etc-opt *
`;

const README_TEXT = `yzt-bridge 一证通桥接
安装后请重新启动浏览器 (Chrome、Chromium、Edge、Firefox)，然后插入一证通 USB Key。
After installing, restart the browser (Chrome, Chromium, Edge, Firefox), then plug in the USB key.
环境检测 Environment check: yzt doctor --system
`;

const NO_PKCS11_TEXT = `
注意：此安装包不含 PKCS#11 组件 (pkcs11js)：只能使用 SKF 驱动的 USB Key。
Note: this package has no PKCS#11 binding (pkcs11js): keys are driven through their SKF libraries only.
`;

const UNSIGNED_XPI_TEXT = `
注意：此安装包中的 Firefox 扩展未经 Mozilla 签名（开发版本），Firefox 不会自动安装它；请使用正式发布版本。
Note: the Firefox extension in this package is not Mozilla-signed (a development build), so Firefox will not
install it; release packages carry the signed .xpi.
`;
