/**
 * Native-messaging host entry point. Browsers start it with their own arguments (Chrome: the caller's
 * origin; Firefox: the manifest path and extension id), which are ignored; `--module PATH` (PKCS#11) and
 * `--skf-module PATH` may be given by hand for testing. The host lives as long as the extension's port: stdin closing ends it.
 */
import { createDispatcher } from "./transport/dispatcher.js";
import { HostLoop } from "./transport/host.js";
import { createLogger } from "./support/log.js";
import { setupService } from "./token/setup.js";
import { HOST_VERSION } from "./support/version.js";

/** Values of `--flag PATH` / `--flag=PATH`; any other argument (the browser's) is ignored. */
function pathsFromArgv(argv: string[], flag: string): string[] {
  const paths: string[] = [];
  argv.forEach((arg, index) => {
    if (arg === flag && argv[index + 1]) paths.push(argv[index + 1]!);
    else if (arg.startsWith(`${flag}=`)) paths.push(arg.slice(flag.length + 1));
  });
  return paths;
}

const logger = createLogger();
logger.log("info", "host started", { pid: process.pid, version: HOST_VERSION });
const argv = process.argv.slice(2);
const setup = setupService({ cliModules: pathsFromArgv(argv, "--module"), cliSkfModules: pathsFromArgv(argv, "--skf-module"), logger });
const loop = new HostLoop({ write: (frame) => process.stdout.write(frame) }, createDispatcher(setup), logger);

setup.service.on("event", (event) => loop.send(event));
try {
  setup.service.start();
} catch (error) {
  // Even with no usable module the host must answer, so diagnose can explain what is wrong.
  logger.log("error", "token service failed to start", { error: error instanceof Error ? error.message : String(error) });
}

process.stdin.on("data", (chunk: Buffer) => loop.receive(chunk));
process.stdin.on("end", () => {
  setup.service.close();
  process.exit(0);
});
process.on("uncaughtException", (error) => {
  // One bad callback must not take every tab's session down with it.
  logger.log("error", "uncaught exception", { error: error.message });
});
