#!/usr/bin/env node
// Thin launcher: the CLI is compiled from native-host/cli/ into dist/.
import { main } from "../dist/native-host/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
