/**
 * Vendor code cannot take the host down (DESIGN.md "Key backends"): each key library runs in a driver process
 * of its own. Failure variants of the virtual SKF key (skf.c) crash and hang where vendor libraries were seen
 * to, beside a healthy library, and the host keeps serving the healthy library's keys, names the failing one,
 * its vendor call and what to do, restarts it, quarantines it after repeated failures, and exits when its
 * input closes whatever a library is doing. Signatures are checked with OpenSSL.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { HostProcess, REPO_ROOT, rejectionOf } from "../../scripts/host-process.js";
import { independentlyVerifiesCms, independentlyVerifiesSm2Cms } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { buildSkf, type SkfVariant } from "../virtual-token/build.js";
import { removeToken, insertToken } from "../virtual-token/state.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const CONTENT = Buffer.from("纳税申报表 2026-12 drivers");

let vtoken: VirtualToken;
let configDir: string;
const hosts: HostProcess[] = [];

/** Limits short enough for a test, long enough for a loaded machine to answer a healthy call. */
const SHORT_LIMITS = { YZT_DRIVER_SCAN_LIMIT_MS: "4000", YZT_DRIVER_CALL_LIMIT_MS: "4000", YZT_DRIVER_HEARTBEAT_MS: "300" };

function serialOf(alias: string): string {
  return vtoken.manifest.tokens.find((token) => token.alias === alias)!.serial;
}

function start(libraries: { skf?: string[]; pkcs11?: string[] }, env: Record<string, string> = {}): HostProcess {
  const args = [...(libraries.skf ?? []).flatMap((path) => ["--skf-module", path]), ...(libraries.pkcs11 ?? []).flatMap((path) => ["--module", path])];
  const host = HostProcess.start({ args, env: { ...vtoken.env, YZT_CONFIG_DIR: configDir, ...env } });
  hosts.push(host);
  return host;
}

/** Reads until `done` holds for what was read: the condition, never a fixed time. */
async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Asks diagnose until `predicate` holds for the library's driver check. */
function driverCheckUntil(host: HostProcess, path: string, predicate: (check: DiagnosticCheck | undefined) => boolean): Promise<DiagnosticCheck | undefined> {
  return until(async () => (await host.request("diagnose", {})).checks.find((candidate) => candidate.id === "driver" && candidate.detail?.path === path), predicate);
}

/**
 * Driver processes still running for a library file: those that have it mapped (a spare driver's command line
 * does not name its library, which came in its first frame).
 */
function driversOf(path: string): number[] {
  const result = spawnSync("pgrep", ["-f", "--", "--yzt-driver "], { encoding: "utf8" });
  return result.stdout.split("\n").filter((line) => line.trim() !== "").map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/maps`, "utf8").includes(path);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** Logs ORIGIN in on a key's signing certificate (CKA_ID 0101) and returns the certificate's id. */
async function loggedIn(host: HostProcess, alias: string): Promise<string> {
  const certificateId = `${serialOf(alias)}:0101`;
  await host.request("login", { certificateId, origin: ORIGIN, pin: vtoken.manifest.userPin });
  return certificateId;
}

async function signCms(host: HostProcess, certificateId: string): Promise<Buffer> {
  const signed = await host.request("sign", { certificateId, origin: ORIGIN, format: "pkcs7-detached", data: CONTENT.toString("base64") });
  return Buffer.from(signed.signature, "base64");
}

function variant(name: SkfVariant): string {
  return buildSkf(vtoken.home, name);
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  // The RSA key, which OpenSSL checks whole, beside the SM2 demo key.
  insertToken(vtoken.home, "rsa");
  configDir = mkdtempSync(join(tmpdir(), "yzt-drivers-config-"));
});

afterAll(async () => {
  for (const host of hosts) await host.close();
  rmSync(join(vtoken.home, "fault.armed"), { force: true });
  vtoken?.dispose();
  rmSync(configDir, { recursive: true, force: true });
});

describe("a library that segfaults in enumeration (龙脉 GM3000 without libusb)", () => {
  // One file for both tests: a quarantine holds for the file that failed (a copy made anew would lift it).
  let crashing: string;
  beforeAll(() => {
    crashing = variant("crash-enum");
  });

  it("costs only its own keys: the healthy library's keys log in and sign while it crashes, is restarted, then quarantined", async () => {
    writeFileSync(join(vtoken.home, "fault.armed"), "");
    const host = start({ skf: [crashing], pkcs11: [vtoken.module] });
    expect((await host.request("hello", {})).protocol).toBe(1);
    const certificateId = await loggedIn(host, "rsa");
    expect(independentlyVerifiesCms(await signCms(host, certificateId), CONTENT, vtoken.manifest.pki.chain)).toBe(true);

    const quarantined = await driverCheckUntil(host, crashing, (check) => check?.detail?.state === "quarantined");
    expect(quarantined).toMatchObject({ status: "error", detail: { call: expect.stringContaining("SKF_EnumDev"), failure: "crashed", recentFailures: 3 } });
    expect(quarantined!.message).toContain("quarantined");
    // The same host, the same session: no PIN, no restart of anything the page depends on.
    expect(independentlyVerifiesCms(await signCms(host, certificateId), CONTENT, vtoken.manifest.pki.chain)).toBe(true);
    expect(driversOf(crashing)).toEqual([]);
  });

  it("stays quarantined for the next host and for yzt doctor, until yzt doctor --retry", async () => {
    const host = start({ skf: [crashing], pkcs11: [vtoken.module] });
    const check = await driverCheckUntil(host, crashing, () => true);
    expect(check).toMatchObject({ status: "error", detail: { state: "quarantined" } });
    expect(driversOf(crashing)).toEqual([]);

    const doctor = (...flags: string[]) =>
      spawnSync(process.execPath, [join(REPO_ROOT, "bin", "yzt.js"), "doctor", "--json", "--skf-module", crashing, "--module", vtoken.module, ...flags], {
        env: { ...process.env, ...vtoken.env, YZT_CONFIG_DIR: configDir }, encoding: "utf8",
      });
    const before = JSON.parse(doctor().stdout) as { checks: DiagnosticCheck[] };
    expect(before.checks.find((candidate) => candidate.id === "driver")).toMatchObject({ status: "error", detail: { state: "quarantined", path: crashing } });
    rmSync(join(vtoken.home, "fault.armed"));
    const retried = JSON.parse(doctor("--retry").stdout) as { checks: DiagnosticCheck[]; actions: string[] };
    expect(retried.actions.join("\n")).toContain(crashing);
    expect(retried.checks.find((candidate) => candidate.id === "driver")).toBeUndefined();
    expect(retried.checks.find((candidate) => candidate.id === "module" && candidate.detail?.path === crashing)).toMatchObject({ status: "ok" });
  });
});

describe("a library that crashes during a signature", () => {
  it("fails that call with HOST_ERROR naming the library and SKF_ECCSignData, removes its keys, and brings them back restarted", async () => {
    const crashing = variant("crash-sign");
    const host = start({ skf: [crashing] });
    const certificateId = await loggedIn(host, "demo");
    const failure = await rejectionOf(signCms(host, certificateId));
    expect(failure.code).toBe("HOST_ERROR");
    expect(failure.message).toContain(crashing);
    expect(failure.message).toContain("SKF_ECCSignData");
    await host.waitForEvent((event) => event.event === "tokenremoved" && event.data.tokenSerial === serialOf("demo"), 10_000);
    await host.waitForEvent((event) => event.event === "tokeninserted" && event.data.tokenSerial === serialOf("demo") && host.events.indexOf(event) > host.events.findIndex((e) => e.event === "tokenremoved"), 10_000);
    // The restarted driver's key has a fresh session: the PIN is asked again.
    expect((await rejectionOf(signCms(host, certificateId))).code).toBe("LOGIN_REQUIRED");
  });
});

describe("a library that hangs in a signature", () => {
  it("answers the page TIMEOUT within the limit, naming the vendor call, and serves the key again after the restart", async () => {
    const hanging = variant("hang-sign");
    const host = start({ skf: [hanging] }, SHORT_LIMITS);
    const certificateId = await loggedIn(host, "demo");
    const failure = await rejectionOf(signCms(host, certificateId));
    expect(failure.code).toBe("TIMEOUT");
    expect(failure.message).toContain("SKF_ECCSignData");
    expect(failure.message).toContain(hanging);
    await host.waitForEvent((event) => event.event === "tokeninserted" && host.events.some((earlier) => earlier.event === "tokenremoved") && host.events.indexOf(event) > host.events.findIndex((e) => e.event === "tokenremoved"), 10_000);
    expect((await host.request("listTokens", {})).some((token) => token.serial === serialOf("demo") && token.present)).toBe(true);
  });
});

describe("a library whose calls never return (C*Core)", () => {
  it("holds up neither hello nor the healthy library's keys, and the host still exits when its input closes, ending the driver", async () => {
    const hanging = variant("hang-enum");
    const host = start({ skf: [hanging], pkcs11: [vtoken.module] }, { YZT_DRIVER_SCAN_LIMIT_MS: "60000", YZT_DRIVER_STOP_GRACE_MS: "1000" });
    expect((await host.request("hello", {})).protocol).toBe(1);
    const tokens = await host.request("listTokens", {});
    expect(tokens.some((token) => token.serial === serialOf("rsa") && token.present)).toBe(true);
    const check = await driverCheckUntil(host, hanging, () => true);
    expect(check).toMatchObject({ status: "warning", detail: { state: "starting" } });
    expect(driversOf(hanging)).toHaveLength(1);
    expect(await host.close()).toBe(0);
    expect(driversOf(hanging)).toEqual([]);
  });

  it("is killed past the enumeration limit and restarted, each time naming SKF_EnumDev", async () => {
    const hanging = variant("hang-enum");
    const host = start({ skf: [hanging] }, SHORT_LIMITS);
    const check = await driverCheckUntil(host, hanging, (candidate) => candidate?.detail?.failure === "hung");
    expect(check!.detail).toMatchObject({ call: expect.stringContaining("SKF_EnumDev") });
  });
});

describe("a library whose SKF_WaitForDevEvent never returns and has no cancel", () => {
  it("is polled instead: its keys sign, a pulled key is seen, and the host exits when its input closes", async () => {
    const library = variant("hang-wait");
    const host = start({ skf: [library] });
    const certificateId = await loggedIn(host, "demo");
    expect(independentlyVerifiesSm2Cms(await signCms(host, certificateId), CONTENT)).toBe(true);
    removeToken(vtoken.home, "demo");
    try {
      await host.waitForEvent((event) => event.event === "tokenremoved" && event.data.tokenSerial === serialOf("demo"), 10_000);
    } finally {
      insertToken(vtoken.home, "demo");
    }
    expect(await host.close()).toBe(0);
    expect(driversOf(library)).toEqual([]);
  });
});

describe("an SM2-only GM/T 0016 library (no SKF_RSASignData, no session-key functions)", () => {
  it("is loaded and signs SM2; what needs a missing function answers UNSUPPORTED_ALGORITHM naming it", async () => {
    const library = variant("sm2-only");
    const host = start({ skf: [library] });
    expect((await host.request("diagnose", {})).checks.find((check) => check.id === "module" && check.detail?.path === library)).toMatchObject({ status: "ok" });
    const sm2 = await loggedIn(host, "demo");
    expect(independentlyVerifiesSm2Cms(await signCms(host, sm2), CONTENT)).toBe(true);
    const rsa = await loggedIn(host, "rsa");
    const failure = await rejectionOf(signCms(host, rsa));
    expect(failure.code).toBe("UNSUPPORTED_ALGORITHM");
    expect(failure.message).toContain("SKF_RSASignData");
  });
});

describe("a library that prints debug lines to stdout, as many vendors' do", () => {
  it("is served normally: its output goes to the host's log, never into the frames", async () => {
    const library = variant("noisy");
    const host = start({ skf: [library] });
    const certificateId = await loggedIn(host, "demo");
    expect(independentlyVerifiesSm2Cms(await signCms(host, certificateId), CONTENT)).toBe(true);
    const { checks } = await host.request("diagnose", {});
    expect(checks.find((check) => check.id === "driver" && check.detail?.path === library)).toBeUndefined();
    expect(host.stderr.join("")).toContain("[vskf debug] signing");
  });
});

describe("the driver's own end of the wire", () => {
  it("reports a library that does not load as failed, once: its driver ends and is not restarted", async () => {
    const missing = join(vtoken.home, "no-such-library.so");
    const host = start({ skf: [missing], pkcs11: [vtoken.module] });
    const { checks } = await host.request("diagnose", {});
    expect(checks.find((candidate) => candidate.id === "module" && candidate.detail?.path === missing)).toMatchObject({ status: "error" });
    expect(checks.find((candidate) => candidate.id === "driver" && candidate.detail?.path === missing)).toBeUndefined();
    expect(existsSync(missing)).toBe(false);
  });
});

describe("the spare driver the host's loader starts before its own bundle", () => {
  /** The host's child processes, each with its command line after the entry. */
  function childrenOf(host: HostProcess): Array<{ pid: number; args: string }> {
    const pid = host.child.pid!;
    let listed: string;
    try {
      listed = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
    } catch {
      return [];
    }
    return listed.trim().split(/\s+/).filter(Boolean).map(Number).flatMap((child) => {
      try {
        return [{ pid: child, args: readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").slice(2).join(" ").trim() }];
      } catch {
        return []; // gone meanwhile
      }
    });
  }

  it("is taken by the first library, which it loads and serves as any driver does", async () => {
    const library = variant("standard");
    const host = start({ skf: [library] });
    const certificateId = await loggedIn(host, "demo");
    expect(independentlyVerifiesSm2Cms(await signCms(host, certificateId), CONTENT)).toBe(true);
    const [driver, ...others] = childrenOf(host);
    expect(others).toEqual([]);
    expect(driver!.args).toBe("--yzt-driver spare");
    expect(driversOf(library)).toEqual([driver!.pid]);
  });

  it("loads only the binding its library needs: an SKF driver maps no pkcs11js, a PKCS#11 driver does", async () => {
    const driverMaps = async (host: HostProcess) => {
      await host.request("listTokens", {});
      return readFileSync(`/proc/${childrenOf(host)[0]!.pid}/maps`, "utf8");
    };
    expect(await driverMaps(start({ skf: [variant("standard")] }))).not.toContain("pkcs11.node");
    expect(await driverMaps(start({ pkcs11: [vtoken.module] }))).toContain("pkcs11.node");
  });

  it("is ended when no library takes it: a library of another architecture gets no driver of this runtime", async () => {
    const foreign = join(vtoken.home, "SKF32.dll");
    const header = Buffer.alloc(512);
    header.write("MZ", 0, "latin1");
    header.writeUInt32LE(0x80, 0x3c);
    header.write("PE\0\0", 0x80, "latin1");
    header.writeUInt16LE(0x14c, 0x84);
    writeFileSync(foreign, header);
    const host = start({ skf: [foreign] });
    const { checks } = await host.request("diagnose", {});
    expect(checks.find((check) => check.detail?.path === foreign)?.message).toContain("32-bit x86");
    expect(await until(() => childrenOf(host), (children) => children.length === 0)).toEqual([]);
  });
});
