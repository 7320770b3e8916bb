/**
 * `yzt install` / `yzt uninstall` / the registration part of `yzt doctor [--fix]`: writes the host
 * launcher and the native-messaging manifest for every detected browser, for the current user or the
 * whole machine, on Linux and macOS; on Windows it writes the manifests plus a .reg file and a PowerShell
 * script with the registry entries (and imports the .reg when actually running on Windows).
 * Everything written is recorded in install.json so uninstall and doctor know exactly what to look at.
 *
 * Layer install/ (browser registration, packages): sits on top with cli/; it may import every layer below.
 */
import { execFileSync } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { HOST_NAME } from "../../protocol/messages.js";
import { YztError } from "../../protocol/errors.js";
import { BROWSERS, browserLocations, familyOf, type BrowserName, type Scope } from "./browsers.js";
import { FIREFOX_EXTENSION_ID, hostManifest, launcherScript } from "./host-manifest.js";

export interface InstallOptions {
  scope: Scope;
  /** Browsers to register; "all": every one this OS and scope has a place for; default: the detected ones (all, if none is detected). */
  browsers?: BrowserName[] | "all";
  /** PKCS#11 module the host should load (pinned in the launcher); default: discovery at run time. */
  module?: string;
  /** SKF library the host should load (pinned in the launcher, YZT_SKF_MODULE). */
  skfModule?: string;
  chromeId: string;
  /** Other published ids of the extension (Edge Add-ons, 360): allowed beside chromeId. */
  storeIds?: string[];
  node?: string;
  entry: string;
  platform?: NodeJS.Platform;
  home?: string;
  /** Where the launcher and install.json live; default per OS and scope. */
  dataDir?: string;
}

export interface InstallRecord {
  scope: Scope;
  platform: NodeJS.Platform;
  launcher: string;
  node: string;
  entry: string;
  module?: string;
  skfModule?: string;
  chromeId: string;
  storeIds?: string[];
  /** registryKeys: Windows keys pointing at the manifest (records before 0.1.1 had one `registryKey`). */
  browsers: Array<{ browser: BrowserName; manifestPath: string; registryKeys?: string[]; registryKey?: string }>;
  windowsScripts?: { reg: string; powershell: string };
}

export function defaultDataDir(platform: NodeJS.Platform, scope: Scope, home = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  if (platform === "win32") return join(scope === "user" ? env.LOCALAPPDATA ?? join(home, "AppData", "Local") : env.ProgramData ?? "C:\\ProgramData", "yzt-bridge");
  if (platform === "darwin") return scope === "user" ? join(home, "Library", "Application Support", "yzt-bridge") : "/Library/Application Support/yzt-bridge";
  return scope === "user" ? join(env.XDG_DATA_HOME ?? join(home, ".local", "share"), "yzt-bridge") : "/opt/yzt-bridge";
}

function recordPath(dataDir: string): string {
  return join(dataDir, "install.json");
}

/**
 * The install record in `dataDir`. Paths in it may be relative to that folder: the Windows installer's
 * records are written before anyone knows the install folder.
 */
export function readRecord(dataDir: string): InstallRecord | null {
  let record: InstallRecord;
  try {
    record = JSON.parse(readFileSync(recordPath(dataDir), "utf8")) as InstallRecord;
  } catch {
    return null;
  }
  const at = (path: string) => (isAbsolute(path) ? path : resolve(dataDir, path));
  return {
    ...record,
    launcher: at(record.launcher),
    node: at(record.node),
    entry: at(record.entry),
    browsers: record.browsers.map((entry) => ({ ...entry, manifestPath: at(entry.manifestPath) })),
  };
}

export function detectedBrowsers(platform: NodeJS.Platform, scope: Scope, home?: string, exists: (path: string) => boolean = existsSync): BrowserName[] {
  return browserLocations(platform, scope, home).filter((l) => l.detect.some(exists)).map((l) => l.browser);
}

/** The libraries pinned at install time, as the environment the launcher sets for the host. */
function pinnedLibraries(options: Pick<InstallOptions, "module" | "skfModule">): Record<string, string> {
  return {
    ...(options.module ? { YZT_PKCS11_MODULE: options.module } : {}),
    ...(options.skfModule ? { YZT_SKF_MODULE: options.skfModule } : {}),
  };
}

function windowsLauncher(node: string, entry: string, env: Record<string, string>): string {
  const sets = Object.entries(env).map(([name, value]) => `set "${name}=${value}"\r\n`).join("");
  return `@echo off\r\nrem yzt-bridge native host launcher (generated)\r\n${sets}"${node}" "${entry}" %*\r\n`;
}

function regEscape(path: string): string {
  return path.replace(/\\/g, "\\\\");
}

/** Every registry key an entry wrote, old records included. */
export function registryKeysOf(entry: InstallRecord["browsers"][number]): string[] {
  return entry.registryKeys ?? (entry.registryKey ? [entry.registryKey] : []);
}

function windowsRegistryScripts(entries: InstallRecord["browsers"]): { reg: string; powershell: string } {
  const reg = ["Windows Registry Editor Version 5.00", ""];
  const ps = ["# yzt-bridge: native-messaging registry entries (generated)", "$ErrorActionPreference = 'Stop'"];
  for (const entry of entries) {
    for (const key of registryKeysOf(entry)) {
      reg.push(`[${key}]`, `@="${regEscape(entry.manifestPath)}"`, "");
      const psKey = key.replace(/^HKEY_CURRENT_USER/, "HKCU:").replace(/^HKEY_LOCAL_MACHINE/, "HKLM:");
      ps.push(`New-Item -Path '${psKey}' -Force | Out-Null`, `Set-ItemProperty -Path '${psKey}' -Name '(default)' -Value '${entry.manifestPath}'`);
    }
  }
  return { reg: reg.join("\r\n"), powershell: ps.join("\r\n") + "\r\n" };
}

/** A browser asked for by name whose host directory is not known for this OS and scope. */
function unplaceableBrowsers(browsers: BrowserName[], platform: NodeJS.Platform, scope: Scope): YztError {
  const perUserOnly = browsers.some((browser) => browser === "qihoo360" || browser === "qaxbrowser");
  const hint =
    browsers.includes("uos") && platform === "linux" && scope === "user"
      ? "：统信 UOS 浏览器只能整机注册 / the UOS browser is registered per machine only: yzt install --system --browser uos"
      : perUserOnly && platform === "linux" && scope === "system"
        ? "：360安全浏览器、奇安信可信浏览器只能按用户注册，请以该用户身份运行 yzt install / 360 and 奇安信 are registered per user only: run yzt install as that user"
        : "";
  return new YztError("BAD_REQUEST", `--browser ${browsers.join(",")}: 本系统不支持 / not available on ${platform} (${scope})${hint}`);
}

export function install(options: InstallOptions): InstallRecord {
  const platform = options.platform ?? process.platform;
  const home = options.home ?? homedir();
  const dataDir = options.dataDir ?? defaultDataDir(platform, options.scope, home);
  const node = options.node ?? process.execPath;
  mkdirSync(dataDir, { recursive: true });

  const launcher = join(dataDir, platform === "win32" ? "yzt-host.bat" : "yzt-host");
  writeFileSync(
    launcher,
    platform === "win32"
      ? windowsLauncher(node, options.entry, pinnedLibraries(options))
      : launcherScript({ node, entry: options.entry, env: pinnedLibraries(options) }),
  );
  // Explicitly: a mode given to writeFileSync only applies to new files, and repair rewrites old ones.
  chmodSync(launcher, 0o755);

  const locations = browserLocations(platform, options.scope, home, dataDir);
  const named = options.browsers === "all" ? [] : options.browsers ?? [];
  const unplaceable = named.filter((browser) => !locations.some((l) => l.browser === browser));
  if (unplaceable.length > 0) throw unplaceableBrowsers(unplaceable, platform, options.scope);
  const detected = detectedBrowsers(platform, options.scope, home);
  const wanted = options.browsers === "all" ? [...BROWSERS] : options.browsers ?? (detected.length > 0 ? detected : [...BROWSERS]);
  const storeIds = options.storeIds ?? [];
  const entries: InstallRecord["browsers"] = [];
  for (const location of locations) {
    if (!wanted.includes(location.browser)) continue;
    mkdirSync(location.manifestDir, { recursive: true });
    const manifestPath = join(location.manifestDir, `${HOST_NAME}.json`);
    writeFileSync(manifestPath, JSON.stringify(hostManifest(familyOf(location.browser), launcher, options.chromeId, storeIds), null, 2) + "\n");
    entries.push({ browser: location.browser, manifestPath, ...(location.registryKeys ? { registryKeys: location.registryKeys } : {}) });
  }

  const record: InstallRecord = {
    scope: options.scope, platform, launcher, node, entry: options.entry, chromeId: options.chromeId, browsers: entries,
    ...(storeIds.length > 0 ? { storeIds } : {}),
    ...(options.module ? { module: options.module } : {}),
    ...(options.skfModule ? { skfModule: options.skfModule } : {}),
  };
  if (platform === "win32") {
    const scripts = windowsRegistryScripts(entries);
    const reg = join(dataDir, "yzt-bridge-native-host.reg");
    const powershell = join(dataDir, "yzt-bridge-native-host.ps1");
    writeFileSync(reg, scripts.reg);
    writeFileSync(powershell, scripts.powershell);
    record.windowsScripts = { reg, powershell };
    if (process.platform === "win32") execFileSync("reg", ["import", reg], { stdio: "ignore" });
  }
  writeFileSync(recordPath(dataDir), JSON.stringify(record, null, 2) + "\n");
  return record;
}

/** Removes everything install() wrote; returns the removed paths. */
export function uninstall(dataDir: string): string[] {
  const record = readRecord(dataDir);
  if (!record) return [];
  const removed: string[] = [];
  for (const entry of record.browsers) {
    if (existsSync(entry.manifestPath)) {
      rmSync(entry.manifestPath, { force: true });
      removed.push(entry.manifestPath);
    }
    for (const key of process.platform === "win32" ? registryKeysOf(entry) : []) {
      try {
        execFileSync("reg", ["delete", key, "/f"], { stdio: "ignore" });
        removed.push(key);
      } catch {
        // Already gone.
      }
    }
  }
  for (const path of [record.launcher, record.windowsScripts?.reg, record.windowsScripts?.powershell, recordPath(dataDir)]) {
    if (path && existsSync(path)) {
      rmSync(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with one browser's registration, or null when it is sound. */
function registrationProblem(record: InstallRecord, entry: InstallRecord["browsers"][number]): string | null {
  if (!existsSync(entry.manifestPath)) return `manifest missing: ${entry.manifestPath}`;
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(entry.manifestPath, "utf8")) as Record<string, unknown>;
  } catch {
    return `manifest is not valid JSON: ${entry.manifestPath}`;
  }
  if (manifest.name !== HOST_NAME || manifest.type !== "stdio") return "manifest has the wrong host name or type";
  // Windows browsers resolve a relative host path against the manifest's own folder.
  const hostPath = typeof manifest.path === "string" && record.platform === "win32" && !isAbsolute(manifest.path) ? resolve(dirname(entry.manifestPath), manifest.path) : manifest.path;
  if (hostPath !== record.launcher) return `manifest points to ${String(manifest.path)} instead of ${record.launcher}`;
  const allowed = familyOf(entry.browser) === "firefox" ? manifest.allowed_extensions : manifest.allowed_origins;
  const expected = familyOf(entry.browser) === "firefox" ? FIREFOX_EXTENSION_ID : `chrome-extension://${record.chromeId}/`;
  if (!Array.isArray(allowed) || !allowed.includes(expected)) return "manifest does not allow the yzt-bridge extension";
  if (!existsSync(record.launcher)) return `launcher missing: ${record.launcher}`;
  if (record.platform !== "win32" && !executable(record.launcher)) return `launcher is not executable: ${record.launcher}`;
  const launcherText = readFileSync(record.launcher, "utf8");
  // The Windows installer's launcher names the entry relative to its own folder (%~dp0).
  const relativeEntry = `%~dp0${relative(dirname(record.launcher), record.entry)}`;
  if (!launcherText.includes(record.entry) && !(record.platform === "win32" && launcherText.includes(relativeEntry))) return "launcher starts a different host";
  if (!existsSync(record.node)) return `Node.js not found at ${record.node}`;
  if (!existsSync(record.entry)) return `host program not found at ${record.entry}`;
  return null;
}

export interface RegistrationReport {
  checks: DiagnosticCheck[];
  /** True when something a reinstall would fix is broken. */
  fixable: boolean;
}

export function checkRegistration(dataDir: string, expected: { entry: string; chromeId: string }): RegistrationReport {
  const record = readRecord(dataDir);
  if (!record) {
    return { checks: [{ id: "registration", status: "error", message: "native host not registered with any browser: run yzt install" }], fixable: true };
  }
  const checks: DiagnosticCheck[] = [];
  let fixable = false;
  const stale = record.entry !== expected.entry || record.chromeId !== expected.chromeId;
  for (const entry of record.browsers) {
    const problem = stale ? `registration points to an old host (${record.entry})` : registrationProblem(record, entry);
    fixable ||= problem !== null;
    checks.push(
      problem
        ? { id: "registration", status: "error", message: `${entry.browser}: ${problem}`, detail: { browser: entry.browser, manifest: entry.manifestPath } }
        : { id: "registration", status: "ok", message: `${entry.browser}: registered`, detail: { browser: entry.browser, manifest: entry.manifestPath } },
    );
  }
  return { checks, fixable };
}

/** Rewrites the registration from the install record (or from scratch), which repairs every problem above. */
export function repairRegistration(dataDir: string, defaults: Omit<InstallOptions, "dataDir">): InstallRecord {
  const record = readRecord(dataDir);
  return install({
    ...defaults,
    dataDir,
    ...(record
      ? { scope: record.scope, browsers: record.browsers.map((b) => b.browser), ...(record.module ? { module: record.module } : {}), ...(record.skfModule ? { skfModule: record.skfModule } : {}) }
      : {}),
  });
}

