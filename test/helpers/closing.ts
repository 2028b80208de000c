/** Closes what a test opened (clients, brokers), newest first, after each test; errors are ignored (the test may have closed it). */
import { afterEach } from 'vitest';

export function useClosing(): <T extends { close(): Promise<void> }>(item: T) => T {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close().catch(() => undefined);
  });
  return (item) => {
    open.push(item);
    return item;
  };
}
