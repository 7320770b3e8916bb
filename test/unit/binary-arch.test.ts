/**
 * A library's architecture, read from its header before any process loads it, and the driver runtime chosen
 * for it: the host's own, one of the library's architecture installed beside it, or a refusal that names the
 * mismatch (a 32-bit vendor DLL on a 64-bit installation) instead of a loader's error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { archOfFile, archOfHeader } from "../../native-host/driver/binary-arch.js";
import { driverStdio, FRAMES_FD_ENV, framesFdFromEnv } from "../../native-host/driver/stdio-layout.js";
import { candidateFromLoadFrame, driverCommand, isSpareInvocation } from "../../native-host/driver/launch.js";

/** The first bytes of a PE file: "MZ", e_lfanew = 0x80, "PE\0\0", COFF Machine. */
function peHeader(machine: number): Buffer {
  const header = Buffer.alloc(0x100);
  header.write("MZ", 0, "latin1");
  header.writeUInt32LE(0x80, 0x3c);
  header.write("PE\0\0", 0x80, "latin1");
  header.writeUInt16LE(machine, 0x84);
  return header;
}

function elfHeader(machine: number, elfClass = 2, littleEndian = true): Buffer {
  const header = Buffer.alloc(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, elfClass, littleEndian ? 1 : 2, 1], 0);
  if (littleEndian) header.writeUInt16LE(machine, 18);
  else header.writeUInt16BE(machine, 18);
  return header;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "yzt-arch-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a library's architecture", () => {
  it("reads PE (32- and 64-bit vendor DLLs), ELF (x64, arm64, LoongArch, mips64el) and refuses what is neither", () => {
    expect(archOfHeader(peHeader(0x14c))).toBe("ia32");
    expect(archOfHeader(peHeader(0x8664))).toBe("x64");
    expect(archOfHeader(elfHeader(62))).toBe("x64");
    expect(archOfHeader(elfHeader(183))).toBe("arm64");
    expect(archOfHeader(elfHeader(258))).toBe("loong64");
    expect(archOfHeader(elfHeader(8, 2))).toBe("mips64");
    expect(archOfHeader(elfHeader(8, 1, false))).toBe("mips");
    expect(archOfHeader(Buffer.from("not a library at all"))).toBeNull();
    const truncated = peHeader(0x14c);
    truncated.writeUInt32LE(0xfff0, 0x3c);
    expect(archOfHeader(truncated)).toBeNull();
  });

  it("reads this machine's own Node binary as its own architecture", () => {
    expect(archOfFile(process.execPath)).toBe(process.arch);
    expect(archOfFile(join(dir, "missing.so"))).toBeNull();
  });
});

describe("the driver runtime for a library", () => {
  const candidate = (path: string) => ({ kind: "skf" as const, source: "explicit" as const, path });

  it("is the host's own for a library of its architecture, or of no known format", () => {
    writeFileSync(join(dir, "SKF64.dll"), peHeader(0x8664));
    writeFileSync(join(dir, "odd.so"), "?");
    const runtime = join(dir, "node.exe");
    expect(driverCommand(candidate(join(dir, "SKF64.dll")), runtime, "x64")).toMatchObject({ command: runtime });
    expect(driverCommand(candidate(join(dir, "odd.so")), runtime, "x64")).toMatchObject({ command: runtime });
  });

  it("is a 32-bit runtime installed beside the host for a 32-bit DLL, and a refusal naming both when there is none", () => {
    const dll = join(dir, "SKFAPI20509.dll");
    writeFileSync(dll, peHeader(0x14c));
    const runtime = join(dir, "node.exe");
    const refused = driverCommand(candidate(dll), runtime, "x64");
    expect(refused).toEqual({ refusal: expect.stringContaining("32-bit x86 library") });
    expect((refused as { refusal: string }).refusal).toContain("64-bit x86 (x64)");
    mkdirSync(join(dir, "runtime-ia32"));
    writeFileSync(join(dir, "runtime-ia32", "node.exe"), "");
    expect(driverCommand(candidate(dll), runtime, "x64")).toMatchObject({ command: join(dir, "runtime-ia32", "node.exe"), args: expect.arrayContaining([dll]), arch: "ia32" });
    // The 32-bit runtime has koffi for SKF libraries, no pkcs11js: a 32-bit PKCS#11 module is refused by name.
    const pkcs11 = driverCommand({ ...candidate(dll), kind: "pkcs11" }, runtime, "x64");
    expect(pkcs11).toEqual({ refusal: expect.stringContaining("32-bit x86 PKCS#11 module") });
    expect((pkcs11 as { refusal: string }).refusal).toContain("its SKF library");
  });
});

describe("a spare driver's first frame", () => {
  it("names its library as argv would, and nothing else is taken", () => {
    expect(candidateFromLoadFrame({ load: { kind: "skf", source: "config", path: "/opt/vendor/libskf.so" } })).toEqual({ kind: "skf", source: "config", path: "/opt/vendor/libskf.so" });
    for (const frame of [null, {}, { load: null }, { load: { kind: "dll", source: "config", path: "/x" } }, { load: { kind: "skf", source: "page", path: "/x" } }, { load: { kind: "skf", source: "config", path: "" } }, { load: { kind: "skf", source: "config", path: "/x" }, id: 1 }, { id: 1, call: "ping" }]) {
      expect(() => candidateFromLoadFrame(frame), JSON.stringify(frame)).toThrow(/first frame/);
    }
    expect(isSpareInvocation(["node", "main.js", "--yzt-driver", "spare"])).toBe(true);
    expect(isSpareInvocation(["node", "main.js", "--yzt-driver", "spare", "extra"])).toBe(false);
  });
});

describe("a driver's descriptors", () => {
  it("put the frames on descriptor 3 wherever driver and host have the same pointer size", () => {
    for (const [driver, host, platform] of [["x64", "x64", "win32"], ["x64", "x64", "linux"], ["arm64", "x64", "win32"], ["ia32", "x64", "linux"], ["x64", "ia32", "win32"]] as const) {
      expect(driverStdio(driver, host, platform), `${driver} under ${host} on ${platform}`).toMatchObject({ framesEntry: 3, driverFramesFd: 3 });
    }
  });

  it("give a 32-bit driver of a 64-bit Windows host the layout its C runtime reads right: requests on 0, frames on 6, the host's stderr as its Win32 output and error", () => {
    const layout = driverStdio("ia32", "x64", "win32");
    expect(layout).toMatchObject({ framesEntry: 3, driverFramesFd: 6 });
    // Entry k reaches the driver as descriptor 2k with the "open" flag byte of index 2k: descriptor 6 is
    // entry 3 (the frames pipe), open by entry 6's flag. Entries 1 and 2 are its Win32 stdout and stderr.
    const stdio = layout.stdio as unknown[];
    expect(stdio).toEqual(["pipe", 2, 2, "pipe", "ignore", "ignore", 2]);
  });

  it("are read by the driver from its environment, and nothing but 3 or 6 is taken", () => {
    expect(framesFdFromEnv({}, 3)).toBe(3);
    expect(framesFdFromEnv({ [FRAMES_FD_ENV]: "6" }, 3)).toBe(6);
    expect(() => framesFdFromEnv({ [FRAMES_FD_ENV]: "4" }, 3)).toThrow(/3 or 6/);
  });
});
