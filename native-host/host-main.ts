/**
 * The native-messaging host (main.ts starts `serve`). Browsers start it with their own arguments (Chrome: the caller's
 * origin and, on Windows, `--parent-window=N`; Firefox: the manifest path and extension id), which are
 * ignored; `--module PATH` (PKCS#11) and `--skf-module PATH` may be given by hand for testing. The host lives
 * as long as the extension's port: stdin closing ends it, once the replies already made have been written.
 * The wire is file descriptors 0 and 1 (transport/stdio.ts), so the same host runs on Windows and under Wine.
 */
import { createDispatcher } from "./transport/dispatcher.js";
import { HostLoop } from "./transport/host.js";
import { FdWriter, openInput } from "./transport/stdio.js";
import { createLogger } from "./support/log.js";
import { setupService } from "./token/setup.js";
import { keyLibraryLoading } from "./driver/loader.js";
import { releaseSpareDriver } from "./driver/spare.js";
import { HOST_VERSION } from "./support/version.js";

const STDIN_FD = 0;
const STDOUT_FD = 1;
/** How long a host whose browser went away still tries to hand over its last replies. */
const EXIT_FLUSH_MS = 1_000;

/** Values of `--flag PATH` / `--flag=PATH`; any other argument (the browser's) is ignored. */
function pathsFromArgv(argv: string[], flag: string): string[] {
  const paths: string[] = [];
  argv.forEach((arg, index) => {
    if (arg === flag && argv[index + 1]) paths.push(argv[index + 1]!);
    else if (arg.startsWith(`${flag}=`)) paths.push(arg.slice(flag.length + 1));
  });
  return paths;
}

/** Sets the host up and serves the browser's port until it closes. */
export async function serve(): Promise<void> {
  const logger = createLogger();
  logger.log("info", "host started", { pid: process.pid, version: HOST_VERSION });
  const argv = process.argv.slice(2);
  const setup = await setupService({
    cliModules: pathsFromArgv(argv, "--module"), cliSkfModules: pathsFromArgv(argv, "--skf-module"), logger, ...keyLibraryLoading(process.env, logger),
  });
  const output = new FdWriter(STDOUT_FD);
  const loop = new HostLoop({ write: (frame) => output.write(frame) }, createDispatcher(setup), logger);

  setup.service.on("event", (event) => loop.send(event));
  try {
    setup.service.start();
  } catch (error) {
    // Even with no usable module the host must answer, so diagnose can explain what is wrong.
    logger.log("error", "token service failed to start", { error: error instanceof Error ? error.message : String(error) });
  }
  // Every library has its driver once the service has started: a spare none took is not needed.
  releaseSpareDriver();

  openInput(STDIN_FD, {
    data: (chunk) => loop.receive(chunk),
    end: (error) => {
      if (error) logger.log("warn", "stdin failed", { error: error.message });
      // Drivers get a few seconds to end their libraries' sessions, then are killed: a vendor library stuck in
      // a call never keeps the host, or itself, alive after the browser is gone.
      const giveUp = new Promise<void>((resolve) => setTimeout(resolve, EXIT_FLUSH_MS).unref());
      void setup.service.close().then(() => Promise.race([output.flushed(), giveUp])).then(() => process.exit(0));
    },
  }).start();
  process.on("uncaughtException", (error) => {
    // One bad callback must not take every tab's session down with it.
    logger.log("error", "uncaught exception", { error: error.message });
  });
}
