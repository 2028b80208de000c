/** ApiVersions: the implemented APIs with exactly the versions the generated codecs decode. */
import { ApiVersions } from '../generated/index.js';
import { IMPLEMENTED_APIS } from '../generated/index.js';
import type { Writer } from '../protocol/writer.js';
import { KafkaErrors } from '../errors.js';

const API_KEYS = IMPLEMENTED_APIS.map((a) => ({ apiKey: a.apiKey, minVersion: a.minVersion, maxVersion: a.maxVersion }));

export async function handleApiVersions(): Promise<ApiVersions.ApiVersionsResponse> {
  return { errorCode: KafkaErrors.NONE, apiKeys: API_KEYS, throttleTimeMs: 0 };
}

/** The reply to a version not implemented: v0, UNSUPPORTED_VERSION, and the versions there are (KIP-511). */
export function writeUnsupportedApiVersions(w: Writer): void {
  ApiVersions.writeApiVersionsResponse(w, 0, { errorCode: KafkaErrors.UNSUPPORTED_VERSION, apiKeys: API_KEYS, throttleTimeMs: 0 });
}
