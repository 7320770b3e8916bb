/**
 * The .deb and .rpm as a user meets them, on this (root) machine: built twice to the same bytes, lintian
 * clean, installed with dpkg, then a browser started the way a desktop starts it — no extension flags, no
 * registration by the test — opens the demo tax hall over https under its real name, and logs in and
 * signs a declaration through the host in /opt. Then an in-place upgrade, and `dpkg -r`, after which no
 * file the package wrote remains and the same page has no window.yzt.
 * Runs apart from the other suites (vitest.system.config.ts): it changes the machine's browsers.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "puppeteer-core";
import { startDemoServer, type DemoServer } from "../../demo/server.js";
import { walkThrough } from "../../scripts/demo-walkthrough.js";
import { launchBrowser, type BrowserSession } from "../../scripts/launch-browser.js";
import { loopbackAddress } from "../../scripts/test-site.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { USER_PIN } from "../virtual-token/provision.js";
import { createDemoTls, DEMO_TLS_HOSTS } from "../virtual-token/tls-pki.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";

const isRoot = process.getuid?.() === 0;
/** Chrome (and Brave), Chromium, Edge and the UOS browser read system hosts only from /etc: put there by the maintainer scripts. */
const ETC_MANIFESTS = ["/etc/opt/chrome", "/etc/chromium", "/etc/opt/edge", "/etc/browser"].map((dir) => `${dir}/native-messaging-hosts/org.yztbridge.host.json`);
/** Ubuntu's snap Firefox reads only /etc/firefox/policies: its policy and the .xpi it points at, put there by the maintainer scripts. */
const SNAP_FIREFOX = ["/etc/firefox/policies/policies.json", "/etc/firefox/policies/yzt-bridge-firefox.xpi"];
const ETC_FILES = [...ETC_MANIFESTS, ...SNAP_FIREFOX];
/** 360安全浏览器's and 奇安信可信浏览器's profiles: registered per user by the postinst where they exist. */
const PROFILES = ["/root/.config/com.360.browser", "/root/.config/qaxbrowser"];
const profileManifest = (profile: string) => `${profile}/NativeMessagingHosts/org.yztbridge.host.json`;
/** The file by which `yzt doctor` finds 360安全浏览器 installed (its UOS package's binary), stood in for here. */
const BROWSER_360 = "/opt/apps/com.360.browser-stable/files/browser360";
const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
const deb = (dir: string) => join(dir, `yzt-bridge_${version}_amd64.deb`);
const rpm = (dir: string) => join(dir, `yzt-bridge-${version}-1.x86_64.rpm`);

let work: string;
let first: string;
let second: string;
let vtoken: VirtualToken;
let server: DemoServer;
let caPem: string;
let firstReport: string;
/** Every path the .deb installs (files and symlinks), as "/opt/…". */
let debFiles: string[];

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
}

function buildInto(dir: string, formats: string): string {
  return run(process.execPath, [join(REPO_ROOT, "dist", "scripts", "package.js"), "--formats", formats, "--out", dir]);
}

function installed(): boolean {
  try {
    return run("dpkg-query", ["-W", "-f=${Status}", "yzt-bridge"]).includes("install ok installed");
  } catch {
    return false;
  }
}

/**
 * What the installed host needs to find the virtual key: its PKCS#11 library pinned (as `npm start` does;
 * otherwise discovery also loads SoftHSM itself and shows the same key twice), the demo CA, and the
 * shim's own home. The host inherits it from the browser, as it would from a user's session.
 */
function keyEnvironment(dir: string): Record<string, string> {
  return { ...vtoken.env, YZT_PKCS11_MODULE: vtoken.module, YZT_LOG_FILE: join(dir, "host.log"), YZT_LOG_LEVEL: "debug" };
}

async function desktopBrowser(family: "chromium" | "firefox", dir: string): Promise<BrowserSession> {
  return launchBrowser(family, keyEnvironment(dir), {
    extension: "installed",
    profileDir: dir,
    site: { hostIp: server.hostIp, caPem, hosts: DEMO_TLS_HOSTS },
    // A development package carries an unsigned .xpi; release packages carry Mozilla's signature. Only this
    // throw-away profile accepts unsigned extensions — a package never sets this on a user's browser.
    firefoxPrefs: { "xpinstall.signatures.required": false },
  });
}

/** Opens the tax hall until the installed extension has injected window.yzt (it installs itself at start-up). */
async function openWithExtension(browser: Browser, timeout = 30_000) {
  const page = await browser.newPage();
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.goto(server.url);
    if (await page.waitForFunction(() => typeof window.yzt === "object", { timeout: 3_000 }).then(() => true, () => false)) return page;
    if (Date.now() > deadline) throw new Error(`no window.yzt on ${server.url} within ${timeout} ms`);
  }
}

/** The running native hosts: the processes whose command line names the packaged host. */
function packagedHostExecutables(): string[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return cmdline.includes("/opt/yzt-bridge/dist/host/main.js") ? [execFileSync("readlink", [`/proc/${pid}/exe`], { encoding: "utf8" }).trim()] : [];
      } catch {
        return [];
      }
    });
}

describe.runIf(isRoot)("Linux packages (.deb / .rpm)", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "yzt-packages-"));
    first = join(work, "first");
    second = join(work, "second");
    // The Windows installer is built and run under Wine by windows-wine.test.ts.
    firstReport = buildInto(first, "deb,rpm");
    buildInto(second, "deb,rpm");
    debFiles = run("dpkg-deb", ["-c", deb(first)])
      .split("\n")
      .filter((line) => /^[-l]/.test(line))
      .map((line) => "/" + line.split(/\s+/)[5]!.replace(/^\.\//, ""));
    vtoken = await cloneVirtualToken();
    const tls = createDemoTls(join(work, "tls"));
    caPem = readFileSync(tls.ca, "utf8");
    const start = (port: number) => startDemoServer({ trustedRoots: [vtoken.manifest.pki.chain], host: loopbackAddress(), port, tls: { cert: tls.cert, key: tls.key, hostName: tls.hosts[0]! } });
    server = await start(443).catch(() => start(0));
  }, 600_000);

  afterAll(async () => {
    if (installed()) run("dpkg", ["--purge", "yzt-bridge"]);
    for (const profile of PROFILES) rmSync(profile, { recursive: true, force: true });
    rmSync("/opt/apps/com.360.browser-stable", { recursive: true, force: true });
    await server?.close();
    vtoken?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("builds the same bytes twice, with the version from package.json in every name", () => {
    const sums = readFileSync(join(first, "SHA256SUMS"), "utf8");
    expect(readFileSync(join(second, "SHA256SUMS"), "utf8")).toBe(sums);
    for (const name of [`yzt-bridge_${version}_amd64.deb`, `yzt-bridge-${version}-1.x86_64.rpm`, `yzt-bridge-chrome-${version}.crx`, `yzt-bridge-firefox-${version}.xpi`]) {
      expect(sums).toMatch(new RegExp(`^[0-9a-f]{64}  ${name.replace(/\./g, "\\.")}$`, "m"));
    }
    expect(run("dpkg-deb", ["-f", deb(first), "Version"]).trim()).toBe(version);
    expect(run("rpm", ["-qp", "--queryformat", "%{VERSION}", rpm(first)])).toBe(version);
  });

  it("says the Firefox extension in a development build is unsigned", () => {
    expect(firstReport).toContain("the .xpi is unsigned");
  });

  it("passes lintian without errors", () => {
    let output: string;
    try {
      output = run("lintian", ["--no-tag-display-limit", deb(first)]);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output.split("\n").filter((line) => line.startsWith("E:"))).toEqual([]);
  }, 120_000);

  it("the .rpm installs the same program, host manifests (also in lib64) and scripts", () => {
    const rpmFiles = new Set(run("rpm", ["-qlp", rpm(first)]).trim().split("\n"));
    const debOnly = new Set(["/usr/share/doc/yzt-bridge/changelog.gz", "/usr/share/lintian/overrides/yzt-bridge"]);
    for (const file of debFiles.filter((path) => !debOnly.has(path))) expect(rpmFiles, file).toContain(file);
    expect(rpmFiles).toContain("/usr/lib64/mozilla/native-messaging-hosts/org.yztbridge.host.json");
    const scripts = run("rpm", ["-qp", "--scripts", rpm(first)]);
    expect(scripts).toContain("/opt/yzt-bridge/bin/yzt doctor --system");
    for (const manifest of ETC_MANIFESTS) {
      expect(scripts).toContain(`install -D -m 644 '/opt/yzt-bridge/native-messaging-hosts/chromium.json' '${manifest}'`);
      expect(scripts).toContain(`rm -f '${manifest}'`);
    }
  });

  it("dpkg -i installs the host with its own Node, yzt on the PATH, every browser's registration, and runs the environment check", () => {
    // A user of 360安全浏览器 and of 奇安信可信浏览器 on this machine: their profiles exist before the package comes.
    for (const profile of PROFILES) mkdirSync(profile, { recursive: true });
    mkdirSync("/opt/apps/com.360.browser-stable/files", { recursive: true });
    writeFileSync(BROWSER_360, "");
    const output = run("dpkg", ["-i", deb(first)]);
    expect(output).toContain("环境检测 / environment check");
    expect(output).toMatch(/✔ \[registration\] chromium: registered/);
    expect(output).toContain("请重新启动浏览器");
    // No key is inserted for the root user here: the check says so in both languages, and the install succeeds.
    expect(output).toContain("环境检测发现问题");
    expect(output).toContain("the check found problems");
    for (const path of ["/opt/yzt-bridge/bin/node", "/opt/yzt-bridge/dist/host/main.js", "/opt/yzt-bridge/node_modules/pkcs11js/build/Release/pkcs11.node", "/usr/lib/mozilla/native-messaging-hosts/org.yztbridge.host.json", ...ETC_FILES, "/usr/lib/firefox-esr/distribution/policies.json"]) {
      expect(existsSync(path), path).toBe(true);
    }
    const chromeId = JSON.parse(readFileSync("/opt/yzt-bridge/install.json", "utf8")).chromeId as string;
    // The UOS browser's external-extension file, and snap Firefox's policy pointing at the .xpi beside it.
    expect(JSON.parse(readFileSync(`/usr/share/browser/extensions/${chromeId}.json`, "utf8"))).toEqual({ external_crx: "/opt/yzt-bridge/extension/yzt-bridge-chrome.crx", external_version: version });
    const snapPolicy = JSON.parse(readFileSync(SNAP_FIREFOX[0]!, "utf8")) as { policies: { ExtensionSettings: Record<string, { installation_mode: string; install_url: string }> } };
    expect(Object.values(snapPolicy.policies.ExtensionSettings)).toEqual([{ installation_mode: "force_installed", install_url: `file://${SNAP_FIREFOX[1]}` }]);
    expect(readFileSync(SNAP_FIREFOX[1]!)).toEqual(readFileSync("/opt/yzt-bridge/extension/yzt-bridge-firefox.xpi"));
    for (const profile of PROFILES) {
      const manifest = JSON.parse(readFileSync(profileManifest(profile), "utf8")) as { path: string; allowed_origins: string[] };
      expect(manifest.path, profile).toBe("/opt/yzt-bridge/yzt-host");
      expect(manifest.allowed_origins).toContain(`chrome-extension://${chromeId}/`);
      expect(JSON.parse(readFileSync(`${profile}/External Extensions/${chromeId}.json`, "utf8"))).toEqual({ external_crx: "/opt/yzt-bridge/extension/yzt-bridge-chrome.crx", external_version: version });
    }
    // The CLI runs on the package's runtime even with no Node on the PATH.
    const bare = spawnSync("/usr/bin/yzt", ["doctor", "--system", "--json"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: work, ...keyEnvironment(work) } });
    const checks = JSON.parse(bare.stdout) as { checks: Array<{ id: string; status: string; message: string }> };
    expect(checks.checks.filter((check) => check.id === "registration").map((check) => check.status)).toEqual(["ok", "ok", "ok", "ok", "ok", "ok"]);
    // Each browser installed here (Chromium, Firefox ESR) is found, sees the host and gets the extension.
    const browsers = checks.checks.filter((check) => check.id === "browser");
    expect(browsers.map((check) => [check.message.split(":")[0], check.status])).toEqual([["Chromium", "ok"], ["Firefox", "ok"], ["360安全浏览器 (com.360.browser-stable)", "ok"]]);
    expect(browsers[2]!.message).toContain("host registered in 1 of 1 profiles, extension offered in 1");
    expect(checks.checks.find((check) => check.id === "host")?.message).toContain(`yzt-bridge host ${version}`);
  });

  it("the installed CLI reads a 国密 key through an SKF library with the package's own FFI (koffi)", () => {
    expect(existsSync("/opt/yzt-bridge/node_modules/koffi/index.cjs")).toBe(true);
    const env = { PATH: "/usr/bin:/bin", HOME: work, ...vtoken.env };
    const listed = spawnSync("/usr/bin/yzt", ["certs", "--skf-module", vtoken.manifest.skfModule, "--json"], { encoding: "utf8", env });
    expect(listed.status, listed.stderr).toBe(0);
    const certificates = JSON.parse(listed.stdout) as Array<{ holderName: string; keyAlgorithm: string }>;
    expect(certificates.map((certificate) => certificate.holderName)).toContain(vtoken.manifest.tokens[0]!.company);
    expect(certificates.some((certificate) => certificate.keyAlgorithm === "SM2")).toBe(true);
  });

  for (const family of ["chromium", "firefox"] as const) {
    it(`${family}, started as a desktop starts it, gets the extension; login and a signed declaration go through the /opt host`, async () => {
      const session = await desktopBrowser(family, join(work, `${family}-installed`));
      try {
        const page = await openWithExtension(session.browser);
        await walkThrough(page, session.browser, USER_PIN, join(work, `${family}-installed`)).catch(async (error: unknown) => {
          const log = join(work, `${family}-installed`, "host.log");
          throw new Error(`${String(error)}\nhost log:\n${existsSync(log) ? readFileSync(log, "utf8").slice(-4000) : "(none: the host never started)"}`);
        });
        expect(server.accepted.length).toBeGreaterThan(0);
        const hosts = packagedHostExecutables();
        expect(hosts.length).toBeGreaterThan(0);
        expect(new Set(hosts)).toEqual(new Set(["/opt/yzt-bridge/bin/node"]));
      } finally {
        await session.close();
      }
    }, 180_000);
  }

  it("upgrades in place: a newer package replaces the old one and keeps every registration", () => {
    const tree = join(work, "upgrade");
    run("dpkg-deb", ["-R", deb(first), tree]);
    const control = join(tree, "DEBIAN", "control");
    writeFileSync(control, readFileSync(control, "utf8").replace(/^Version: .*$/m, `Version: ${version}+upgrade1`));
    run("dpkg-deb", ["--root-owner-group", "-b", tree, join(work, "upgrade.deb")]);
    run("dpkg", ["-i", join(work, "upgrade.deb")]);
    expect(run("dpkg-query", ["-W", "-f=${Version}", "yzt-bridge"])).toBe(`${version}+upgrade1`);
    for (const path of [...debFiles, ...ETC_FILES, ...PROFILES.map(profileManifest)]) expect(existsSync(path), path).toBe(true);
  });

  it("dpkg -r leaves no file, manifest or policy behind, and the tax hall page has no window.yzt", async () => {
    run("dpkg", ["-r", "yzt-bridge"]);
    expect([...debFiles, ...ETC_FILES, ...PROFILES.map(profileManifest)].filter((path) => existsSync(path))).toEqual([]);
    const profileDirs = PROFILES.flatMap((profile) => [`${profile}/NativeMessagingHosts`, `${profile}/External Extensions`]);
    for (const dir of ["/opt/yzt-bridge", "/etc/chromium/native-messaging-hosts", "/etc/opt/edge", "/etc/browser", "/usr/share/microsoft-edge", "/etc/firefox", ...profileDirs]) expect(existsSync(dir), dir).toBe(false);
    // The users' own profiles stay.
    for (const profile of PROFILES) expect(existsSync(profile), profile).toBe(true);
    const session = await desktopBrowser("chromium", join(work, "chromium-removed"));
    try {
      const page = await session.browser.newPage();
      await page.goto(server.url);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await page.reload();
      expect(await page.evaluate(() => typeof window.yzt)).toBe("undefined");
    } finally {
      await session.close();
    }
  }, 120_000);

  it("installing again after removal registers every browser again, and leaves a user's own manifest in a profile as it is", () => {
    // The 奇安信 user registered a host of their own (yzt install from elsewhere): the package neither replaces nor removes it.
    const own = '{"name":"org.yztbridge.host","path":"/home/someone/yzt-host"}\n';
    mkdirSync(`${PROFILES[1]}/NativeMessagingHosts`, { recursive: true });
    writeFileSync(profileManifest(PROFILES[1]!), own);
    run("dpkg", ["-i", deb(first)]);
    for (const path of [...debFiles, ...ETC_FILES, profileManifest(PROFILES[0]!)]) expect(existsSync(path), path).toBe(true);
    expect(readFileSync(profileManifest(PROFILES[1]!), "utf8")).toBe(own);
    run("dpkg", ["--purge", "yzt-bridge"]);
    expect([...debFiles, ...ETC_FILES, profileManifest(PROFILES[0]!)].filter((path) => existsSync(path))).toEqual([]);
    expect(readFileSync(profileManifest(PROFILES[1]!), "utf8")).toBe(own);
  });

  it("leaves an administrator's own /etc/firefox/policies/policies.json as it is, through install and purge, and says what to add", () => {
    const adminPolicy = '{"policies":{"DisableTelemetry":true}}\n';
    mkdirSync("/etc/firefox/policies", { recursive: true });
    writeFileSync(SNAP_FIREFOX[0]!, adminPolicy);
    try {
      expect(run("dpkg", ["-i", deb(first)])).toContain("/etc/firefox/policies/policies.json belongs to the administrator and was left alone");
      expect(readFileSync(SNAP_FIREFOX[0]!, "utf8")).toBe(adminPolicy);
      run("dpkg", ["--purge", "yzt-bridge"]);
      expect(readFileSync(SNAP_FIREFOX[0]!, "utf8")).toBe(adminPolicy);
    } finally {
      rmSync("/etc/firefox", { recursive: true, force: true });
    }
  });
});
