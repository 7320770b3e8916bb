/**
 * The `yzt` program as one file: what bin/yzt.js runs from a checkout and what the packages ship bundled.
 * Node's stdio is made safe first (Wine; support/stdio-fallback.ts), then the CLI is loaded. No top-level
 * await, for the same reason as main.ts.
 */
import { installStdioFallback } from "../support/stdio-fallback.js";
import { exitOnStartFailure } from "../support/start-failure.js";

installStdioFallback();
import("./main.js")
  .then(async ({ main }) => {
    process.exitCode = await main(process.argv.slice(2));
  })
  .catch(exitOnStartFailure);
