/** The `yzt` program as one file: what bin/yzt.js runs from a checkout and what the packages ship bundled. */
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
