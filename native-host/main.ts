/**
 * Native-messaging host entry point: what browsers run (through the launcher). It makes Node's stdio safe
 * where libuv cannot open it (Wine; support/stdio-fallback.ts) before it loads the host itself
 * (host-main.ts), because loading a module graph already reads the process object. No top-level await: the
 * same module runs inside the CommonJS bundle (launch/run-bundle.ts), which has none.
 */
import { installStdioFallback } from "./support/stdio-fallback.js";
import { exitOnStartFailure } from "./support/start-failure.js";
import { isDriverInvocation } from "./driver/launch.js";

installStdioFallback();
// A key library's driver process is started from the same entry (driver/launch.ts).
if (isDriverInvocation()) import("./driver/child.js").then(({ runDriver }) => runDriver(process.argv)).catch(exitOnStartFailure);
else import("./host-main.js").then(({ serve }) => serve()).catch(exitOnStartFailure);
