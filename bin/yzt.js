#!/usr/bin/env node
// Thin launcher: the CLI is compiled from native-host/cli/ into dist/.
import "../dist/native-host/cli/entry.js";
