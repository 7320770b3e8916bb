/**
 * The system tools a package test needs (Wine, cross compilers, qemu), installed here when missing and the test
 * may (root: scripts/setup-system.sh, without the browsers); else why not, for the test's skip message.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/host-process.js";

/** True when every command runs from the PATH and every file exists. */
export function commandsAndFilesPresent(commands: string[], files: string[] = []): boolean {
  const script = [...commands.map((command) => `command -v ${command}`), ...files.map((file) => `test -e ${file}`)].join(" && ");
  return spawnSync("sh", ["-c", script], { stdio: "ignore" }).status === 0;
}

/** Null when `present()` holds, after installing the system packages if needed; else why `what` is missing. */
export function systemToolsMissing(present: () => boolean, what: string): string | null {
  if (present()) return null;
  if (process.getuid?.() !== 0) return `${what}: not installed and this test is not root: run scripts/setup-system.sh`;
  const installed = spawnSync("bash", [join(REPO_ROOT, "scripts", "setup-system.sh")], { encoding: "utf8", timeout: 600_000, env: { ...process.env, YZT_WITH_BROWSERS: "0" } });
  return present() ? null : `${what}: could not be installed (setup-system.sh exit ${installed.status}): ${installed.stderr.slice(-300)}`;
}
