/**
 * What runs on the user's machine around installation, shared by the .deb and the .rpm: the /etc host
 * manifests copied into place (see EtcRegistration), the environment check (printed in Chinese and
 * English); on removal, the /etc manifests and the directories they alone needed are deleted.
 */
import { dirname } from "node:path";
import { LINUX_PROFILE_DIRS } from "../../native-host/install/browsers.js";
import { INSTALL_DIR, type EtcRegistration, type LinuxTree, type ProfileFile } from "./linux-tree.js";

/** Directories of the base system, never removed even when empty. */
const BASE_DIRS = new Set(["/", "/etc", "/etc/opt"]);

/** A shell test that is true while `target` holds exactly the file we installed. */
function stillOurs(target: string, sha256: string): string {
  return `echo '${sha256}  ${target}' | sha256sum -c --status 2>/dev/null`;
}

export function installCommand({ source, target, ownedIfSha256 }: EtcRegistration): string {
  const install = `install -D -m 644 '${source}' '${target}'`;
  if (ownedIfSha256 === undefined) return install;
  return [
    `if [ ! -e '${target}' ] || ${stillOurs(target, ownedIfSha256)}; then`,
    `  ${install}`,
    `else`,
    `  echo "yzt-bridge: ${target} 已由管理员配置，未改动；请把 ${source} 中的 ExtensionSettings 条目加入其中 / ${target} belongs to the administrator and was left alone: add the ExtensionSettings entry of ${source} to it"`,
    `fi`,
  ].join("\n");
}

export function removeCommand({ target, ownedIfSha256 }: EtcRegistration): string {
  return ownedIfSha256 === undefined ? `rm -f '${target}'` : `if ${stillOurs(target, ownedIfSha256)}; then rm -f '${target}'; fi`;
}

/**
 * Browsers whose system-wide host directory is not known (360安全浏览器, 奇安信可信浏览器: closed Chromium forks)
 * read a user's own profile: the profile files (linux-tree.ts: the host manifest, the external extension) go
 * into every profile that exists when the package is installed; a profile made later is registered by
 * `yzt install` run as that user. Everything inside a home runs as the home's owner (runuser), whose own
 * rights then bound where any symlink in it leads: root never resolves a path a user controls. A home
 * owned by root, other than /root, is skipped. A file is written only where none is or ours is (its
 * SHA-256), and removed only while it is still ours: a manifest of the user's own `yzt install` stays.
 */
function asEachHomeOwner(script: string): string[] {
  return [
    `for home in /root /home/*; do`,
    `  [ -d "$home" ] || continue`,
    `  owner="$(stat -c %U "$home")"`,
    `  if [ "$home" != /root ] && [ "$owner" = root ]; then continue; fi`,
    `  runuser -u "$owner" -- sh -c '${script}' sh "$home" || echo "yzt-bridge: 未能处理 $home 中的浏览器配置 / could not update the browser profiles in $home"`,
    `done`,
  ];
}

/** The script a home's owner runs: `body(file)` for each of our files in each existing, non-symlinked profile. */
function inEachProfile(files: ProfileFile[], body: (file: ProfileFile) => string): string {
  const perFile = files.map((file) => `t="$p/${file.path}"; ${body(file)}`).join("; ");
  return `for name in ${LINUX_PROFILE_DIRS.join(" ")}; do p="$1/.config/$name"; if [ -d "$p" ] && [ ! -L "$p" ]; then ${perFile}; fi; done`;
}

const ours = (file: ProfileFile) => `echo "${file.sha256}  $t" | sha256sum -c --status 2>/dev/null`;

function profileInstallCommands(files: ProfileFile[]): string[] {
  if (files.length === 0) return [];
  return asEachHomeOwner(inEachProfile(files, (file) => `if [ ! -e "$t" ] || ${ours(file)}; then mkdir -p "$(dirname "$t")" && cp ${file.source} "$t"; fi`));
}

function profileRemovalCommands(files: ProfileFile[]): string[] {
  if (files.length === 0) return [];
  return asEachHomeOwner(inEachProfile(files, (file) => `if ${ours(file)}; then rm -f "$t"; rmdir "$(dirname "$t")" 2>/dev/null || true; fi`));
}

/** What the maintainer scripts place and remove. */
export type MaintainedFiles = Pick<LinuxTree, "etcRegistrations" | "profileFiles">;

export function afterInstallCommands({ etcRegistrations: registrations, profileFiles }: MaintainedFiles): string {
  return [
    ...registrations.map(installCommand),
    ...profileInstallCommands(profileFiles),
    `echo "yzt-bridge: 环境检测 / environment check"`,
    `if ${INSTALL_DIR}/bin/yzt doctor --system; then`,
    `  echo "yzt-bridge: 环境检测通过 / environment check passed"`,
    `else`,
    // Right after installing, "no key inserted" is the usual finding: the package is still installed.
    `  echo "yzt-bridge: 环境检测发现问题（见上；插入 USB Key 后可运行 yzt doctor --system 复查）/ the check found problems (above; run yzt doctor --system again with the key inserted)"`,
    `fi`,
    `echo "yzt-bridge: 安装完成。请重新启动浏览器，然后插入一证通 USB Key。"`,
    `echo "yzt-bridge: installed. Restart the browser, then plug in the USB key."`,
  ].join("\n");
}

export function removalCommands({ etcRegistrations: registrations, profileFiles }: MaintainedFiles): string {
  const dirs = new Set<string>();
  for (const { target } of registrations) {
    for (let dir = dirname(target); !BASE_DIRS.has(dir); dir = dirname(dir)) dirs.add(dir);
  }
  // Deepest first, so a parent is tried after its children; a directory with other files stays.
  const ordered = [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
  return [
    ...registrations.map(removeCommand),
    ...ordered.map((dir) => `rmdir '${dir}' 2>/dev/null || true`),
    ...profileRemovalCommands(profileFiles),
  ].join("\n");
}

export function debPostinst(files: MaintainedFiles): string {
  return `#!/bin/sh\nset -e\nif [ "$1" = "configure" ]; then\n${indent(afterInstallCommands(files))}\nfi\nexit 0\n`;
}

export function debPostrm(files: MaintainedFiles): string {
  return `#!/bin/sh\nset -e\ncase "$1" in\n  remove|purge)\n${indent(removalCommands(files), "    ")}\n    ;;\nesac\nexit 0\n`;
}

function indent(text: string, prefix = "  "): string {
  return text.split("\n").map((line) => prefix + line).join("\n");
}
