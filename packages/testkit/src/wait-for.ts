export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeout?: number;
  /** Poll this often (default 50 ms). */
  interval?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Polls `condition` until it returns a truthy value (returned) or the timeout passes (throws with the
 * last value seen). For waiting on eventually-true state, never for asserting speed.
 *
 * `waitFor(condition, { timeout, what })` is the form to use; `waitFor(what, condition, timeoutMs,
 * intervalMs)` is the older one, kept so the callers can move over file by file.
 */
export function waitFor<T>(condition: () => T | Promise<T>, options?: WaitOptions): Promise<NonNullable<T>>;
export function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs?: number,
  intervalMs?: number,
): Promise<NonNullable<T>>;
export async function waitFor<T>(
  first: string | (() => T | Promise<T>),
  second?: WaitOptions | (() => T | Promise<T>),
  timeoutMs?: number,
  intervalMs?: number,
): Promise<NonNullable<T>> {
  const [condition, options] =
    typeof first === "string"
      ? [second as () => T | Promise<T>, { what: first, timeout: timeoutMs, interval: intervalMs }]
      : [first, (second ?? {}) as WaitOptions];
  const until = Date.now() + (options.timeout ?? 10_000);
  let last: T | undefined;
  for (;;) {
    last = await condition();
    if (last) return last as NonNullable<T>;
    if (Date.now() > until)
      throw new Error(
        `timed out waiting for ${options.what ?? "a condition"}; last value: ${JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, options.interval ?? 50));
  }
}
