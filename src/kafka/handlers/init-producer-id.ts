/**
 * InitProducerId for idempotent producers: a fresh producer id at epoch 0 from the metadata store, the same
 * id space as POST /producers (so ids never collide between the two front doors). Transactional ids are not
 * supported (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
 */
import { InitProducerId } from '../generated/index.js';
import { expected, KafkaErrors } from '../errors.js';
import type { KafkaServices } from '../services.js';

export function initProducerIdHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: InitProducerId.InitProducerIdRequest): Promise<InitProducerId.InitProducerIdResponse> => {
    const reply = { throttleTimeMs: 0, errorCode: KafkaErrors.NONE, producerId: -1, producerEpoch: -1 };
    if (request.transactionalId !== null) return { ...reply, errorCode: KafkaErrors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    try {
      const identity = await s.registerProducer(null);
      return { ...reply, producerId: identity.producerId, producerEpoch: identity.producerEpoch };
    } catch (err) {
      return { ...reply, errorCode: expected(err).code };
    }
  };
}
