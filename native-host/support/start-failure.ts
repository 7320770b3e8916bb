/**
 * What an entry point does when the program cannot even start (a module that fails to load, a broken
 * installation): say why on stderr, which browsers keep in their logs, and exit non-zero at once. Without
 * this, a rejected start would leave a process the browser waits on.
 */
export function exitOnStartFailure(error: unknown): never {
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  try {
    process.stderr.write(`yzt-bridge failed to start: ${text}\n`);
  } finally {
    process.exit(70);
  }
}
