/**
 * sluice's security building blocks, free of any network library: principals and ACLs (authorize), the auth
 * file, bearer tokens, token-bucket quotas. The HTTP listener applies them in src/server/security-hooks.ts;
 * other front doors (the Kafka listener, inter-broker calls) call `Authenticator.authenticate` and `authorize`.
 */
export { ANONYMOUS, Authenticator } from './authenticator.js';
export { CLUSTER_NAME, OPERATIONS, RESOURCES, authorize, authorizeAny, isClusterAdmin, type AccessCheck, type AclEntry, type Operation, type Principal, type Quotas, type Resource } from './acl.js';
export { AuthFileError, parseAuthFile, readAuthFile, type AuthPrincipal } from './auth-file.js';
export { QuotaManager, QUOTA_KINDS, type QuotaKind, type QuotaLimits } from './quotas.js';
export { bearerToken, newToken, sha256Hex } from './tokens.js';
