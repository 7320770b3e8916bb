/**
 * Tells whoever runs this code that JavaScript-heavy work (bigint curve arithmetic) is about to start. The
 * native host answers by turning V8's optimising compiler back on (native-host/support/v8-settings.ts); the
 * server kit and the demo never listen. crypto/ stays free of any program's settings this way.
 */
let started = false;
let listener: (() => void) | null = null;

/** Called before each piece of such work; the listener hears only the first. */
export function heavyComputeStarts(): void {
  if (started) return;
  started = true;
  listener?.();
}

/** Registers the one listener; told at once when heavy work already started before it registered. */
export function onHeavyCompute(callback: () => void): void {
  listener = callback;
  if (started) callback();
}
