/** dist/host/main.js: the native-messaging host, from the code-cached bundle (run-bundle.ts). */
import { runBundle } from "./run-bundle.js";

runBundle("host", import.meta.url);
