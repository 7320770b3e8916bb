/** dist/host/yzt.js: the `yzt` command line, from the code-cached bundle (run-bundle.ts). */
import { runBundle } from "./run-bundle.js";

runBundle("cli", import.meta.url);
