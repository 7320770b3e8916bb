/**
 * The .rpm: a spec whose %install copies the staged tree, built by rpmbuild with the build host, build
 * time and file times pinned to SOURCE_DATE_EPOCH (same inputs, same bytes). No automatic dependency
 * scan, stripping or build-id links: the tree is already final.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LinuxTree } from "./linux-tree.js";
import { afterInstallCommands, removalCommands } from "./maintainer-scripts.js";
import { PACKAGE_DESCRIPTION } from "./deb.js";

export interface RpmInput {
  stage: string;
  tree: LinuxTree;
  version: string;
  output: string;
  work: string;
  sourceDateEpoch: number;
}

/** Directories every system has: the package must not claim them. */
const SHARED_DIRS = new Set(["/", "/etc", "/opt", "/usr", "/usr/bin", "/usr/lib", "/usr/lib64", "/usr/share", "/usr/share/doc", "/etc/opt"]);

function ownedDirectories(files: string[]): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    for (let dir = dirname(file); !SHARED_DIRS.has(dir); dir = dirname(dir)) dirs.add(dir);
  }
  return [...dirs].sort();
}

function spec(input: RpmInput): string {
  const quote = (path: string) => `"${path}"`;
  return [
    "Name: yzt-bridge",
    `Version: ${input.version}`,
    "Release: 1",
    `Summary: ${PACKAGE_DESCRIPTION[0]}`,
    "License: MIT",
    "URL: https://yztbridge.org/",
    "BuildArch: x86_64",
    "AutoReqProv: no",
    "Requires: glibc, libstdc++",
    "Recommends: opensc, pcsc-lite",
    "%global debug_package %{nil}",
    "%global __os_install_post %{nil}",
    "%global _build_id_links none",
    "",
    "%description",
    ...PACKAGE_DESCRIPTION.slice(1),
    "",
    "%install",
    "mkdir -p %{buildroot}",
    `cp -a ${quote(input.stage)}/. %{buildroot}/`,
    "",
    "%post",
    afterInstallCommands(input.tree),
    "",
    // $1 is 0 on erase, 1 after an upgrade (when the new package's files are already in place).
    "%postun",
    "if [ \"$1\" = 0 ]; then",
    removalCommands(input.tree),
    "fi",
    "",
    "%files",
    ...ownedDirectories(input.tree.files).map((dir) => `%dir ${quote(dir)}`),
    ...input.tree.files.map(quote),
    "",
  ].join("\n");
}

export function buildRpm(input: RpmInput): string {
  rmSync(input.work, { recursive: true, force: true });
  mkdirSync(input.work, { recursive: true });
  const specFile = join(input.work, "yzt-bridge.spec");
  writeFileSync(specFile, spec(input));
  const define = (name: string, value: string) => ["--define", `${name} ${value}`];
  execFileSync("rpmbuild", [
    "-bb", specFile,
    ...define("_topdir", input.work),
    ...define("_buildhost", "yzt-bridge.build"),
    ...define("use_source_date_epoch_as_buildtime", "1"),
    ...define("clamp_mtime_to_source_date_epoch", "1"),
    ...define("_binary_payload", "w6.xzdio"),
    ...define("_dbpath", join(input.work, "rpmdb")),
  ], { env: { ...process.env, SOURCE_DATE_EPOCH: String(input.sourceDateEpoch) }, stdio: "pipe", maxBuffer: 64 * 1024 * 1024 });
  const built = join(input.work, "RPMS", "x86_64");
  const name = readdirSync(built).find((file) => file.endsWith(".rpm"));
  if (!name) throw new Error("rpmbuild produced no package");
  copyFileSync(join(built, name), input.output);
  return input.output;
}
