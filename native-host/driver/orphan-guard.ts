/**
 * A driver must not outlive its host. It ends by itself when the host closes its stdin, but a vendor call that
 * never returns keeps its main thread from ever reading that; and a host that was killed (the browser gave up
 * on it) could not kill its drivers. On Linux the kernel does it: PR_SET_PDEATHSIG makes the host's death a
 * SIGKILL for the driver, whatever the driver is stuck in. Elsewhere the host's own kill at exit is what there
 * is (host-main.ts).
 */
import { createRequire } from "node:module";

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

export function dieWithHost(): void {
  if (process.platform !== "linux") return;
  const parent = process.ppid;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    const prctl = koffi.load("libc.so.6").func("int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)");
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  } catch {
    return; // no FFI in this installation: the host's kill at exit still applies
  }
  // The host may have died before the signal was asked for: then the driver has a new parent already.
  if (process.ppid !== parent) process.exit(0);
}
