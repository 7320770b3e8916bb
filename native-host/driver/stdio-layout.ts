/**
 * Which descriptors a driver process gets, and on which one it writes its frames (wire.ts).
 *
 * Normally: stdin for the host's requests, stdout to the host's stderr (where vendor libraries print),
 * stderr inherited, and descriptor 3 a pipe for the frames.
 *
 * A 32-bit driver started by a 64-bit host on Windows cannot be given descriptor 3. Windows hands a child its
 * C-runtime descriptors in STARTUPINFO.lpReserved2, laid out as a count, one flag byte per descriptor, then
 * one OS handle per descriptor. libuv (the 64-bit host) writes 8-byte handles; the 32-bit Node runtime's C
 * runtime (linked into node.exe, so the same code on Windows and under Wine) reads 4-byte ones. The driver
 * therefore sees descriptor 2k as the host's entry k (a handle's low half, which is the whole handle) and
 * descriptor 2k+1 as handle 0 (the high half), each with the flag byte of its own index, which must say
 * "open" for the descriptor to exist. libuv also hands entries 0, 1 and 2 over as the Win32 standard
 * handles (STARTUPINFO), which vendor code that prints through its own C runtime, or writes to
 * GetStdHandle directly, uses. The cross layout below gives the driver: descriptor 0 = entry 0 (requests);
 * descriptor 2 = entry 1 (the host's stderr: Node's own warnings); descriptor 6 = entry 3 (the frames), whose
 * "open" flag is entry 6's; and Win32 standard output and error = entries 1 and 2, both the host's stderr,
 * never the frames. Descriptor 1 is handle 0 and goes nowhere; the driver writes nothing to it.
 */
import type { StdioOptions } from "node:child_process";

/** Where the driver reads its frame descriptor from; the default is wire.ts's DRIVER_FRAMES_FD. */
export const FRAMES_FD_ENV = "YZT_DRIVER_FRAMES_FD";

const STDERR_FD = 2;
const POINTER_BITS: Record<string, number> = { ia32: 32, arm: 32, mips: 32, x64: 64, arm64: 64, loong64: 64, mips64: 64, ppc64: 64, s390x: 64, riscv64: 64 };

export interface DriverStdio {
  stdio: StdioOptions;
  /** The entry of the host's `child.stdio` the frames arrive on. */
  framesEntry: number;
  /** The descriptor the driver writes frames to; set in its environment when not the default. */
  driverFramesFd: number;
}

const NORMAL: DriverStdio = { stdio: ["pipe", STDERR_FD, "inherit", "pipe"], framesEntry: 3, driverFramesFd: 3 };
const SIXTY_FOUR_TO_THIRTY_TWO_WINDOWS: DriverStdio = { stdio: ["pipe", STDERR_FD, STDERR_FD, "pipe", "ignore", "ignore", STDERR_FD], framesEntry: 3, driverFramesFd: 6 };

/** The layout for a driver of `driverArch` started by a host of `hostArch` on `platform`. */
export function driverStdio(driverArch: string, hostArch: string = process.arch, platform: NodeJS.Platform = process.platform): DriverStdio {
  // Only this direction is worked out above; a 32-bit host is not shipped.
  const cross = platform === "win32" && POINTER_BITS[hostArch] === 64 && POINTER_BITS[driverArch] === 32;
  return cross ? SIXTY_FOUR_TO_THIRTY_TWO_WINDOWS : NORMAL;
}

/** In the driver: the descriptor its frames go to (3, or what the host set for a 32-bit driver on 64-bit Windows). */
export function framesFdFromEnv(env: NodeJS.ProcessEnv, fallback: number): number {
  const value = env[FRAMES_FD_ENV];
  if (value === undefined) return fallback;
  if (value !== "3" && value !== "6") throw new Error(`${FRAMES_FD_ENV} must be 3 or 6, not ${JSON.stringify(value)}`);
  return Number(value);
}
