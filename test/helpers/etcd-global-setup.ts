/**
 * vitest globalSetup: makes sure the etcd binary is there (installing Debian's etcd-server when missing)
 * once, before any test worker starts, so no test file's hook spends its timeout on apt.
 */
import { ensureEtcdInstalled } from './etcd.js';

export default function setup(): void {
  ensureEtcdInstalled();
}
