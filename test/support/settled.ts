/**
 * How `operation` settled before the event loop's next turn, or 'pending': settling by then means it
 * waited for no timer and no I/O, which is what "at once" means in the suites (no wall-clock limit needed).
 */
export function settledBeforeNextTurn(operation: Promise<unknown>): Promise<string> {
  return Promise.race([
    operation.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    ),
    new Promise<string>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}
