/**
 * Retries a database write through a short outage. Only for writes that are safe to repeat
 * (conditional on a lease, or idempotent): a failed attempt may still have committed.
 */
export async function retryWrite<T>(
  write: () => Promise<T>,
  delaysMs: readonly number[],
  onRetry: (error: unknown, attempt: number) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const wait = delaysMs[attempt];
      if (wait === undefined) throw error;
      onRetry(error, attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
