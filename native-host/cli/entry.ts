/**
 * The `yzt` program as one file: what bin/yzt.js runs from a checkout and what the packages ship bundled.
 * Node's stdio is made safe first (Wine; support/stdio-fallback.ts), then the CLI is loaded.
 */
import { installStdioFallback } from "../support/stdio-fallback.js";

installStdioFallback();
const { main } = await import("./main.js");
process.exitCode = await main(process.argv.slice(2));
