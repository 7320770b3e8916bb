/**
 * The CLI commands that set a machine up rather than use a key: install, uninstall, package, policies,
 * and the registration half of doctor (with --fix, the "全部修复" of the old 证书应用环境).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { YztError } from "../../protocol/errors.js";
import { BROWSERS, type BrowserName, type Scope } from "../install/browsers.js";
import { chromeExtensionId } from "../install/host-manifest.js";
import { browserDeliveryChecks } from "../install/browser-delivery.js";
import { checkRegistration, defaultDataDir, install, readRecord, registryKeysOf, repairRegistration, uninstall, type InstallOptions } from "../install/installer.js";
import { publishedIds, storeIds } from "../install/extension-ids.js";
import { unregisteredBrowserChecks } from "../install/unregistered-browsers.js";
import { packageExtension, writePolicies } from "../install/packaging.js";
import { hostEntry, packageRoot } from "../install/paths.js";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { HOST_VERSION } from "../support/version.js";
import { stringOption, type ParsedArgs } from "./args.js";

export interface SetupContext {
  scope: Scope;
  dataDir: string;
  defaults: Omit<InstallOptions, "dataDir">;
}

function browsersOption(args: ParsedArgs): BrowserName[] | "all" | undefined {
  const value = stringOption(args, "browser");
  if (value === undefined || value === "detected") return undefined;
  if (value === "all") return "all";
  const names = value.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(BROWSERS as readonly string[]).includes(name)) throw new YztError("BAD_REQUEST", `--browser: unknown browser "${name}" (${BROWSERS.join(", ")}, all)`);
  }
  return names as BrowserName[];
}

/** On Windows, an installation made by the installer keeps its registration record in its own folder. */
function installedDataDir(): string | undefined {
  const root = packageRoot();
  return process.platform === "win32" && existsSync(join(root, "install.json")) ? root : undefined;
}

export function setupContext(args: ParsedArgs): SetupContext {
  const scope: Scope = args.options.has("system") ? "system" : "user";
  const dataDir = stringOption(args, "data-dir") ?? process.env.YZT_DATA_DIR ?? installedDataDir() ?? defaultDataDir(process.platform, scope);
  const browsers = browsersOption(args);
  const module = stringOption(args, "module");
  const skfModule = stringOption(args, "skf-module");
  const ids = publishedIds(packageRoot());
  return {
    scope,
    dataDir,
    defaults: {
      scope,
      entry: hostEntry(),
      chromeId: ids.chrome,
      storeIds: storeIds(ids),
      ...(browsers ? { browsers } : {}),
      ...(module ? { module } : {}),
      ...(skfModule ? { skfModule } : {}),
      ...(process.env.YZT_INSTALL_HOME ? { home: process.env.YZT_INSTALL_HOME } : {}),
    },
  };
}

export function runInstall(context: SetupContext): void {
  const record = install({ ...context.defaults, dataDir: context.dataDir });
  console.log(`已安装 installed yzt-bridge native host (${context.scope}): ${record.launcher}`);
  for (const entry of record.browsers) console.log(`  ${entry.browser.padEnd(8)} ${registryKeysOf(entry).join(", ") || entry.manifestPath}`);
  if (record.windowsScripts) console.log(`  registry: ${record.windowsScripts.reg} (or ${record.windowsScripts.powershell})`);
  console.log("重启浏览器后生效 restart the browser to use it");
}

export function runUninstall(context: SetupContext): void {
  const removed = uninstall(context.dataDir);
  console.log(removed.length > 0 ? `已卸载 removed:\n  ${removed.join("\n  ")}` : "nothing to remove: yzt-bridge was not installed here");
}

export function runPackage(args: ParsedArgs): void {
  const result = packageExtension(packageRoot(), HOST_VERSION, stringOption(args, "out") ?? join(packageRoot(), "dist", "packages"));
  console.log(`Chrome/Edge: ${result.chromeZip}\nFirefox:     ${result.firefoxXpi}`);
}

export function runPolicies(args: ParsedArgs): void {
  const out = stringOption(args, "out") ?? join(packageRoot(), "dist", "policies");
  const files = writePolicies(out, {
    chromeId: chromeExtensionId(join(packageRoot(), "manifest.json")),
    chromeUpdateUrl: stringOption(args, "update-url") ?? "https://clients2.google.com/service/update2/crx",
    firefoxXpiUrl: stringOption(args, "xpi-url") ?? `file://${join(packageRoot(), "dist", "packages", `yzt-bridge-firefox-${HOST_VERSION}.xpi`)}`,
  });
  console.log(`策略文件 policy files:\n  ${files.join("\n  ")}`);
}

/** Registration checks, repaired first when `fix` is set. */
export function registrationChecks(context: SetupContext, fix: boolean): { checks: DiagnosticCheck[]; actions: string[] } {
  const expected = { entry: context.defaults.entry, chromeId: context.defaults.chromeId };
  const actions: string[] = [];
  if (fix && checkRegistration(context.dataDir, expected).fixable) {
    const record = repairRegistration(context.dataDir, context.defaults);
    actions.push(`re-registered the native host for ${record.browsers.map((b) => b.browser).join(", ")}`);
  }
  // The package (launcher under /opt) also delivers the extension: each browser found is checked for both halves.
  const packaged = process.platform === "linux" && context.scope === "system" && readRecord(context.dataDir)?.launcher.startsWith(`${defaultDataDir("linux", "system")}/`) === true;
  return {
    checks: [...checkRegistration(context.dataDir, expected).checks, ...unregisteredBrowserChecks(process.platform, context.scope), ...(packaged ? browserDeliveryChecks(expected.chromeId) : [])],
    actions,
  };
}
