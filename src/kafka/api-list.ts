/** Every implemented API: the generated codec of its messages and its handler. */
import * as G from './generated/index.js';
import { entry, type ApiTable } from './api-table.js';
import { handleApiVersions, writeUnsupportedApiVersions } from './handlers/api-versions.js';
import { metadataHandler } from './handlers/metadata.js';
import { produceHandler } from './handlers/produce.js';
import { fetchHandler } from './handlers/fetch.js';
import { listOffsetsHandler } from './handlers/list-offsets.js';
import { initProducerIdHandler } from './handlers/init-producer-id.js';
import { createTopicsHandler, deleteTopicsHandler, describeConfigsHandler } from './handlers/topics-admin.js';
import {
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  syncGroupHandler,
} from './handlers/groups.js';
import { offsetCommitHandler, offsetFetchHandler } from './handlers/offsets.js';
import type { ClassicGroups } from './groups/classic-groups.js';
import type { KafkaServices } from './services.js';

export function buildApiTable(s: KafkaServices, classic: ClassicGroups): ApiTable {
  const apiVersions = entry('ApiVersions', G.ApiVersions, G.ApiVersions.readApiVersionsRequest, G.ApiVersions.writeApiVersionsResponse, handleApiVersions);
  apiVersions.unsupported = writeUnsupportedApiVersions;
  const entries = [
    apiVersions,
    entry('Metadata', G.Metadata, G.Metadata.readMetadataRequest, G.Metadata.writeMetadataResponse, metadataHandler(s)),
    entry('Produce', G.Produce, G.Produce.readProduceRequest, G.Produce.writeProduceResponse, produceHandler(s)),
    entry('Fetch', G.Fetch, G.Fetch.readFetchRequest, G.Fetch.writeFetchResponse, fetchHandler(s)),
    entry('ListOffsets', G.ListOffsets, G.ListOffsets.readListOffsetsRequest, G.ListOffsets.writeListOffsetsResponse, listOffsetsHandler(s)),
    entry('InitProducerId', G.InitProducerId, G.InitProducerId.readInitProducerIdRequest, G.InitProducerId.writeInitProducerIdResponse, initProducerIdHandler(s)),
    entry('CreateTopics', G.CreateTopics, G.CreateTopics.readCreateTopicsRequest, G.CreateTopics.writeCreateTopicsResponse, createTopicsHandler(s)),
    entry('DeleteTopics', G.DeleteTopics, G.DeleteTopics.readDeleteTopicsRequest, G.DeleteTopics.writeDeleteTopicsResponse, deleteTopicsHandler(s)),
    entry('DescribeConfigs', G.DescribeConfigs, G.DescribeConfigs.readDescribeConfigsRequest, G.DescribeConfigs.writeDescribeConfigsResponse, describeConfigsHandler(s)),
    entry('FindCoordinator', G.FindCoordinator, G.FindCoordinator.readFindCoordinatorRequest, G.FindCoordinator.writeFindCoordinatorResponse, findCoordinatorHandler(s)),
    entry('JoinGroup', G.JoinGroup, G.JoinGroup.readJoinGroupRequest, G.JoinGroup.writeJoinGroupResponse, joinGroupHandler(s, classic)),
    entry('SyncGroup', G.SyncGroup, G.SyncGroup.readSyncGroupRequest, G.SyncGroup.writeSyncGroupResponse, syncGroupHandler(classic)),
    entry('Heartbeat', G.Heartbeat, G.Heartbeat.readHeartbeatRequest, G.Heartbeat.writeHeartbeatResponse, heartbeatHandler(classic)),
    entry('LeaveGroup', G.LeaveGroup, G.LeaveGroup.readLeaveGroupRequest, G.LeaveGroup.writeLeaveGroupResponse, leaveGroupHandler(classic)),
    entry('OffsetCommit', G.OffsetCommit, G.OffsetCommit.readOffsetCommitRequest, G.OffsetCommit.writeOffsetCommitResponse, offsetCommitHandler(s, classic)),
    entry('OffsetFetch', G.OffsetFetch, G.OffsetFetch.readOffsetFetchRequest, G.OffsetFetch.writeOffsetFetchResponse, offsetFetchHandler(s)),
    entry('ListGroups', G.ListGroups, G.ListGroups.readListGroupsRequest, G.ListGroups.writeListGroupsResponse, listGroupsHandler(s, classic)),
    entry('DescribeGroups', G.DescribeGroups, G.DescribeGroups.readDescribeGroupsRequest, G.DescribeGroups.writeDescribeGroupsResponse, describeGroupsHandler(s, classic)),
  ];
  const table: ApiTable = new Map(entries.map((e) => [e.apiKey, e]));
  if (table.size !== G.IMPLEMENTED_APIS.length) throw new Error('an API with a schema has no handler');
  return table;
}
