#!/usr/bin/env node
// The `umo-studio` executable.
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
