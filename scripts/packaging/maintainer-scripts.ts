/**
 * What runs on the user's machine around installation, shared by the .deb and the .rpm: the /etc host
 * manifests copied into place (see EtcRegistration), the environment check (printed in Chinese and
 * English); on removal, the /etc manifests and the directories they alone needed are deleted.
 */
import { dirname } from "node:path";
import { INSTALL_DIR, type EtcRegistration } from "./linux-tree.js";

/** Directories of the base system, never removed even when empty. */
const BASE_DIRS = new Set(["/", "/etc", "/etc/opt"]);

export function afterInstallCommands(registrations: EtcRegistration[]): string {
  return [
    ...registrations.map(({ source, target }) => `install -D -m 644 '${source}' '${target}'`),
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

export function removalCommands(registrations: EtcRegistration[]): string {
  const dirs = new Set<string>();
  for (const { target } of registrations) {
    for (let dir = dirname(target); !BASE_DIRS.has(dir); dir = dirname(dir)) dirs.add(dir);
  }
  // Deepest first, so a parent is tried after its children; a directory with other files stays.
  const ordered = [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
  return [
    ...registrations.map(({ target }) => `rm -f '${target}'`),
    ...ordered.map((dir) => `rmdir '${dir}' 2>/dev/null || true`),
  ].join("\n");
}

export function debPostinst(registrations: EtcRegistration[]): string {
  return `#!/bin/sh\nset -e\nif [ "$1" = "configure" ]; then\n${indent(afterInstallCommands(registrations))}\nfi\nexit 0\n`;
}

export function debPostrm(registrations: EtcRegistration[]): string {
  return `#!/bin/sh\nset -e\ncase "$1" in\n  remove|purge)\n${indent(removalCommands(registrations), "    ")}\n    ;;\nesac\nexit 0\n`;
}

function indent(text: string, prefix = "  "): string {
  return text.split("\n").map((line) => prefix + line).join("\n");
}
