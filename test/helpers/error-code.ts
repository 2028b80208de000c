/** The BrokerError code a function throws (or String(err) for anything else), undefined when it does not throw. */
import { isBrokerError } from '../../src/common/errors.js';

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isBrokerError(err) ? err.code : String(err);
  }
  return undefined;
}
