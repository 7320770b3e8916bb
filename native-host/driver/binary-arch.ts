/**
 * Which CPU a library file is built for, read from its header (ELF e_machine, PE/COFF Machine, Mach-O
 * cputype), before any process tries to load it. A 64-bit process cannot load a 32-bit vendor DLL (10 of 15
 * vendor SKF DLLs found on Windows are 32-bit only) and the loader's own message ("Cannot load 'Intel 386+'
 * DLL in 'AMD x64' process", "wrong ELF class") says nothing a help desk can act on; the host names the
 * mismatch instead, and picks a driver runtime of the library's architecture where the installation has one.
 */
import { closeSync, openSync, readSync } from "node:fs";

/** Architectures by Node's `process.arch` names. */
export type BinaryArch = "ia32" | "x64" | "arm" | "arm64" | "loong64" | "mips" | "mips64" | "ppc64" | "s390x" | "riscv64";

const HEADER_BYTES = 4096;

const ELF_MACHINES: Record<number, BinaryArch> = { 3: "ia32", 62: "x64", 40: "arm", 183: "arm64", 258: "loong64", 8: "mips", 21: "ppc64", 22: "s390x", 243: "riscv64" };
const PE_MACHINES: Record<number, BinaryArch> = { 0x14c: "ia32", 0x8664: "x64", 0x1c4: "arm", 0xaa64: "arm64" };
const MACHO_CPUS: Record<number, BinaryArch> = { 7: "ia32", 0x01000007: "x64", 12: "arm", 0x0100000c: "arm64" };

/** The architecture a library's header names; null when the header is not one of these formats. */
export function archOfHeader(header: Uint8Array): BinaryArch | null {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.length >= 20 && header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c && header[3] === 0x46) {
    // ELF: e_machine at 18, in the file's own byte order (EI_DATA 1 = little endian); MIPS is 64-bit by EI_CLASS.
    const machine = view.getUint16(18, header[5] === 1);
    const arch = ELF_MACHINES[machine] ?? null;
    return arch === "mips" && header[4] === 2 ? "mips64" : arch;
  }
  if (header.length >= 64 && header[0] === 0x4d && header[1] === 0x5a) {
    // PE: "MZ", e_lfanew at 0x3c, then "PE\0\0" and the COFF Machine field.
    const peOffset = view.getUint32(0x3c, true);
    if (peOffset + 6 > header.length || view.getUint32(peOffset, false) !== 0x50450000) return null;
    return PE_MACHINES[view.getUint16(peOffset + 4, true)] ?? null;
  }
  if (header.length >= 8 && (view.getUint32(0, true) === 0xfeedface || view.getUint32(0, true) === 0xfeedfacf)) {
    return MACHO_CPUS[view.getUint32(4, true)] ?? null;
  }
  return null;
}

/** The architecture of a library file; null when it cannot be read or is of no format known here. */
export function archOfFile(path: string): BinaryArch | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const length = readSync(fd, header, 0, HEADER_BYTES, 0);
    return archOfHeader(header.subarray(0, length));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const WORDS: Record<BinaryArch, string> = {
  ia32: "32-bit x86", x64: "64-bit x86 (x64)", arm: "32-bit ARM", arm64: "64-bit ARM (arm64)", loong64: "LoongArch (loong64)",
  mips: "32-bit MIPS", mips64: "64-bit MIPS (mips64el)", ppc64: "POWER (ppc64)", s390x: "s390x", riscv64: "RISC-V (riscv64)",
};

export function describeArch(arch: BinaryArch): string {
  return WORDS[arch];
}
