/**
 * Native-messaging host entry point: what browsers run (through the launcher). It makes Node's stdio safe
 * where libuv cannot open it (Wine; support/stdio-fallback.ts) before it loads the host itself
 * (host-main.ts), because loading a module graph already reads the process object.
 */
import { installStdioFallback } from "./support/stdio-fallback.js";

installStdioFallback();
await import("./host-main.js");
