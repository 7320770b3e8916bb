/**
 * The .deb: control file, md5sums and maintainer scripts around the staged tree, built by
 * dpkg-deb with root ownership and SOURCE_DATE_EPOCH, so the same inputs give the same bytes.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installedSizeKiB, type LinuxArch, type LinuxTree } from "./linux-tree.js";
import { debPostinst, debPostrm } from "./maintainer-scripts.js";

export interface DebInput {
  stage: string;
  tree: LinuxTree;
  /** Default amd64. */
  arch?: LinuxArch;
  version: string;
  output: string;
  sourceDateEpoch: number;
}

export const PACKAGE_DESCRIPTION = [
  "Browser bridge for Beijing 一证通 USB certificate keys",
  "yzt-bridge lets online tax-hall pages use a USB certificate key",
  "through a browser extension for Chrome, Chromium, Edge and Firefox",
  "and a native host that drives the key through PKCS#11: certificate",
  "login, signatures, PIN change and an environment check.",
];

function control(input: DebInput): string {
  return [
    "Package: yzt-bridge",
    `Version: ${input.version}`,
    `Architecture: ${input.arch ?? "amd64"}`,
    "Maintainer: yzt-bridge developers <maintainers@yztbridge.org>",
    `Installed-Size: ${installedSizeKiB(input.stage, input.tree.files)}`,
    "Depends: libc6 (>= 2.28), libstdc++6 (>= 10), libgcc-s1",
    "Recommends: opensc, pcscd",
    "Section: utils",
    "Priority: optional",
    "Homepage: https://yztbridge.org/",
    `Description: ${PACKAGE_DESCRIPTION[0]}`,
    ...PACKAGE_DESCRIPTION.slice(1).map((line) => ` ${line}`),
    "",
  ].join("\n");
}

export function buildDeb(input: DebInput): string {
  const debian = join(input.stage, "DEBIAN");
  mkdirSync(debian, { recursive: true });
  const sums = input.tree.files
    .filter((path) => lstatSync(join(input.stage, path)).isFile())
    .sort()
    .map((path) => `${createHash("md5").update(readFileSync(join(input.stage, path))).digest("hex")}  ${path.slice(1)}`);
  const files: Array<[string, string, number]> = [
    ["control", control(input), 0o644],
    ["md5sums", sums.join("\n") + "\n", 0o644],
    ["postinst", debPostinst(input.tree), 0o755],
    ["postrm", debPostrm(input.tree), 0o755],
  ];
  for (const [name, content, mode] of files) {
    const path = join(debian, name);
    writeFileSync(path, content);
    chmodSync(path, mode);
    utimesSync(path, input.sourceDateEpoch, input.sourceDateEpoch);
  }
  chmodSync(debian, 0o755);
  utimesSync(debian, input.sourceDateEpoch, input.sourceDateEpoch);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", input.stage, input.output], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(input.sourceDateEpoch) },
    stdio: "pipe", maxBuffer: 64 * 1024 * 1024,
  });
  return input.output;
}
