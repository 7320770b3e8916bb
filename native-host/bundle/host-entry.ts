/**
 * dist/host/main.js: the native-messaging host, from the code-cached bundle (run-bundle.ts). A spare driver
 * process is started first (driver/spare.ts), so that its start overlaps the bundle's.
 */
import { fileURLToPath } from "node:url";
import { startSpareDriver } from "../driver/spare.js";
import { runBundle } from "./run-bundle.js";

startSpareDriver(fileURLToPath(import.meta.url));
runBundle("host", import.meta.url);
