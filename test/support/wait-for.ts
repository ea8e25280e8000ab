// Waiting for a real event without fixed sleeps: poll a condition until it holds, with a hard deadline.

/** Resolves with the condition's first truthy value; rejects after `timeoutMs` (default 5 s). */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: ${what} did not hold within ${timeoutMs} ms${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
