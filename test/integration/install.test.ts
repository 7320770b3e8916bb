/**
 * `yzt install` / `uninstall` / `doctor --fix` / `package` / `policies`, run as a user would, into a
 * temporary HOME: manifests land where browsers look, the launcher really answers native messaging,
 * broken registrations are found and repaired.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder } from "../../native-host/transport/framing.js";
import { chromeExtensionId } from "../../native-host/install/host-manifest.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { libraryFlag } from "../virtual-token/backend.js";

let work: string;
let home: string;
let vtoken: VirtualToken;
const CHROME_ID = chromeExtensionId(join(REPO_ROOT, "manifest.json"));

function yzt(args: string[]) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "yzt.js"), ...args], {
    env: { ...process.env, ...vtoken.hostEnv, YZT_CONFIG_DIR: join(work, "config"), YZT_DATA_DIR: join(work, "data"), YZT_INSTALL_HOME: home },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const manifestPaths = () => ({
  chrome: join(home, ".config", "google-chrome", "NativeMessagingHosts", "org.yztbridge.host.json"),
  chromium: join(home, ".config", "chromium", "NativeMessagingHosts", "org.yztbridge.host.json"),
  edge: join(home, ".config", "microsoft-edge", "NativeMessagingHosts", "org.yztbridge.host.json"),
  brave: join(home, ".config", "BraveSoftware", "Brave-Browser", "NativeMessagingHosts", "org.yztbridge.host.json"),
  firefox: join(home, ".mozilla", "native-messaging-hosts", "org.yztbridge.host.json"),
});

/** Speaks native messaging to the launcher exactly as a browser would, and returns the hello answer. */
async function helloThrough(launcher: string): Promise<Record<string, unknown>> {
  const child = spawn(launcher, [`chrome-extension://${CHROME_ID}/`], { stdio: ["pipe", "pipe", "ignore"] });
  const decoder = new FrameDecoder(1 << 20);
  const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      for (const item of decoder.push(chunk)) {
        // Token events may come first; the answer is the message with our id.
        if (item.kind === "message" && (item.value as { id?: unknown }).id === 1) resolve(item.value as Record<string, unknown>);
      }
    });
    child.on("error", reject);
    setTimeout(() => reject(new Error("no answer from the launcher")), 5000);
  });
  child.stdin.write(encodeFrame({ id: 1, method: "hello", params: {} }));
  try {
    return await answer;
  } finally {
    child.stdin.end();
  }
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  work = mkdtempSync(join(tmpdir(), "yzt-install-"));
  home = join(work, "home");
});
afterAll(() => {
  vtoken?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("yzt install", () => {
  it("registers the host for every browser with manifests where each browser looks", () => {
    const { code, stdout } = yzt(["install", "--browser", "all", libraryFlag(vtoken.library), vtoken.library.path]);
    expect(code).toBe(0);
    expect(stdout).toContain("installed");
    const launcher = join(work, "data", "yzt-host");
    for (const [browser, path] of Object.entries(manifestPaths())) {
      const manifest = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
      expect(manifest).toMatchObject({ name: "org.yztbridge.host", type: "stdio", path: launcher });
      if (browser === "firefox") expect(manifest.allowed_extensions).toEqual(["yzt-bridge@yztbridge.org"]);
      else expect(manifest.allowed_origins).toEqual([`chrome-extension://${CHROME_ID}/`]);
    }
  });

  it("writes a launcher that answers native messaging with the chosen library", async () => {
    const hello = await helloThrough(join(work, "data", "yzt-host"));
    expect(hello).toMatchObject({ id: 1, result: { protocol: 1, modules: [vtoken.library.path] } });
  });

  it("doctor finds a missing, a corrupt and a stale manifest, and doctor --fix repairs all three", async () => {
    expect(yzt(["doctor"]).stdout).not.toContain("✘ [registration]");
    const paths = manifestPaths();
    rmSync(paths.chromium);
    writeFileSync(paths.firefox, "{ not json");
    const stale = JSON.parse(readFileSync(paths.edge, "utf8")) as Record<string, unknown>;
    writeFileSync(paths.edge, JSON.stringify({ ...stale, path: "/opt/old-yzt/host.sh" }));
    chmodSync(join(work, "data", "yzt-host"), 0o644);
    const broken = yzt(["doctor"]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/✘ \[registration\] chromium: manifest missing/);
    expect(broken.stdout).toMatch(/✘ \[registration\] firefox: manifest is not valid JSON/);
    expect(broken.stdout).toMatch(/✘ \[registration\] edge: manifest points to \/opt\/old-yzt\/host.sh/);
    expect(broken.stdout).toMatch(/✘ \[registration\] chrome: launcher is not executable/);
    const fixed = yzt(["doctor", "--fix"]);
    expect(fixed.stdout).toContain("re-registered the native host");
    expect(fixed.stdout, fixed.stdout).not.toContain("✘");
    expect(fixed.code).toBe(0);
    expect(await helloThrough(join(work, "data", "yzt-host"))).toMatchObject({ result: { protocol: 1 } });
  });

  it("doctor --fix drops module paths that no longer exist and sets aside a broken config file", () => {
    const configDir = join(work, "config");
    spawnSync("mkdir", ["-p", configDir]);
    writeFileSync(join(configDir, "config.json"), JSON.stringify({ modules: ["/nonexistent/libvendor.so", vtoken.module], idleTimeoutMinutes: 20 }));
    const fixed = yzt(["doctor", "--fix"]);
    expect(fixed.stdout).toContain("removed missing PKCS#11 modules from the config: /nonexistent/libvendor.so");
    expect(JSON.parse(readFileSync(join(configDir, "config.json"), "utf8"))).toEqual({ modules: [vtoken.module], idleTimeoutMinutes: 20 });
    writeFileSync(join(configDir, "config.json"), "{ broken");
    expect(yzt(["doctor"]).stdout).toMatch(/\[config\]/);
    expect(yzt(["doctor", "--fix"]).stdout).toContain("config file was invalid");
    expect(existsSync(join(configDir, "config.json.broken"))).toBe(true);
    expect(yzt(["doctor"]).stdout).not.toMatch(/\[config\]/);
  });

  it("uninstall removes every file install wrote", () => {
    const { code, stdout } = yzt(["uninstall"]);
    expect(code).toBe(0);
    for (const path of Object.values(manifestPaths())) {
      expect(existsSync(path)).toBe(false);
      expect(stdout).toContain(path);
    }
    expect(existsSync(join(work, "data", "yzt-host"))).toBe(false);
    expect(yzt(["doctor"]).stdout).toMatch(/✘ \[registration\] native host not registered/);
  });
});

describe("yzt package and policies", () => {
  it("packages the built extension as a valid .zip and .xpi with the manifest at the root", () => {
    const out = join(work, "packages");
    const { code, stdout } = yzt(["package", "--out", out]);
    expect(code).toBe(0);
    for (const [file, id] of [["yzt-bridge-chrome-0.1.0.zip", "key"], ["yzt-bridge-firefox-0.1.0.xpi", "yzt-bridge@yztbridge.org"]] as const) {
      expect(stdout).toContain(file);
      const listing = spawnSync("python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print('\\n'.join(z.namelist())); print(z.read('manifest.json').decode())", join(out, file)], { encoding: "utf8" });
      expect(listing.status).toBe(0);
      expect(listing.stdout).toContain("extension/background/index.js");
      expect(listing.stdout).toContain("_locales/zh_CN/messages.json");
      expect(listing.stdout).toContain(id);
    }
  });

  it("writes Chrome, Edge and Firefox enterprise policies that force-install the extension and allow the host", () => {
    const out = join(work, "policies");
    expect(yzt(["policies", "--out", out, "--update-url", "https://updates.example.cn/yzt.xml", "--xpi-url", "https://updates.example.cn/yzt.xpi"]).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "chrome-linux/etc/opt/chrome/policies/managed/yzt-bridge.json"), "utf8"))).toEqual({
      ExtensionInstallForcelist: [`${CHROME_ID};https://updates.example.cn/yzt.xml`],
      NativeMessagingAllowlist: ["org.yztbridge.host"],
    });
    const firefox = JSON.parse(readFileSync(join(out, "firefox/policies.json"), "utf8"));
    expect(firefox.policies.ExtensionSettings["yzt-bridge@yztbridge.org"]).toEqual({ installation_mode: "force_installed", install_url: "https://updates.example.cn/yzt.xpi" });
    const reg = readFileSync(join(out, "windows/yzt-bridge-chrome-edge-policy.reg"), "utf8");
    expect(reg).toContain("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\NativeMessagingAllowlist]");
    expect(reg).toContain(`"1"="${CHROME_ID};https://updates.example.cn/yzt.xml"`);
  });
});
