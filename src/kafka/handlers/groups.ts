/**
 * FindCoordinator and the classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup (classic-group.ts
 * runs the rebalance), ListGroups and DescribeGroups over both kinds of group.
 */
import { DescribeGroups, FindCoordinator, Heartbeat, JoinGroup, LeaveGroup, ListGroups, SyncGroup } from '../generated/index.js';
import { MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS } from '../../groups/consumer-group.js';
import { KafkaErrors } from '../errors.js';
import type { RequestContext } from '../api-table.js';
import type { ClassicGroups } from '../groups/classic-groups.js';
import type { KafkaServices } from '../services.js';

const GROUP_KEY = 0;

export function findCoordinatorHandler(s: KafkaServices) {
  return async (_ctx: unknown, version: number, request: FindCoordinator.FindCoordinatorRequest): Promise<FindCoordinator.FindCoordinatorResponse> => {
    const keys = version >= 4 ? request.coordinatorKeys : [request.key];
    const coordinators = keys.map((key) => {
      if (request.keyType !== GROUP_KEY) {
        return { key, nodeId: -1, host: '', port: -1, errorCode: KafkaErrors.COORDINATOR_NOT_AVAILABLE, errorMessage: 'only group coordinators exist (no transactions)' };
      }
      const node = s.cluster.coordinatorFor(key);
      return { key, nodeId: node.nodeId, host: node.host, port: node.port, errorCode: KafkaErrors.NONE, errorMessage: null };
    });
    const first = coordinators[0] ?? { nodeId: -1, host: '', port: -1, errorCode: KafkaErrors.INVALID_REQUEST, errorMessage: 'no key' };
    return { throttleTimeMs: 0, errorCode: first.errorCode, errorMessage: first.errorMessage, nodeId: first.nodeId, host: first.host, port: first.port, coordinators };
  };
}

/** Live members of the HTTP group of that name (0 when there is none). */
function httpMembers(s: KafkaServices, group: string): number {
  try {
    return s.groups.describe(group).members.length;
  } catch {
    return 0;
  }
}

export function joinGroupHandler(s: KafkaServices, classic: ClassicGroups) {
  return async (ctx: RequestContext, version: number, request: JoinGroup.JoinGroupRequest): Promise<JoinGroup.JoinGroupResponse> => {
    const reply = (errorCode: number, memberId = request.memberId): JoinGroup.JoinGroupResponse => ({
      throttleTimeMs: 0,
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId,
      members: [],
    });
    if (request.groupId === '') return reply(KafkaErrors.INVALID_GROUP_ID);
    if (request.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || request.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS) return reply(KafkaErrors.INVALID_SESSION_TIMEOUT);
    if (httpMembers(s, request.groupId) > 0) return reply(KafkaErrors.INCONSISTENT_GROUP_PROTOCOL);
    const g = classic.getOrCreate(request.groupId);
    if (!g.accepts(request.protocolType, request.protocols)) {
      classic.forgetIfEmpty(request.groupId);
      return reply(KafkaErrors.INCONSISTENT_GROUP_PROTOCOL);
    }
    const outcome = await g.join({
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: ctx.clientId ?? '',
      clientHost: ctx.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: the session timeout serves as one.
      rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      requireKnownMemberId: version >= 4,
    });
    return { throttleTimeMs: 0, ...outcome, protocolType: outcome.errorCode === KafkaErrors.NONE ? g.protocolType : null };
  };
}

export function syncGroupHandler(classic: ClassicGroups) {
  return async (_ctx: unknown, _version: number, request: SyncGroup.SyncGroupRequest): Promise<SyncGroup.SyncGroupResponse> => {
    const g = classic.get(request.groupId);
    const outcome = g ? await g.sync(request.memberId, request.generationId, request.assignments) : { errorCode: KafkaErrors.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) };
    return { throttleTimeMs: 0, ...outcome, protocolType: g?.protocolType ?? null, protocolName: g?.protocol ?? null };
  };
}

export function heartbeatHandler(classic: ClassicGroups) {
  return async (_ctx: unknown, _version: number, request: Heartbeat.HeartbeatRequest): Promise<Heartbeat.HeartbeatResponse> => {
    const g = classic.get(request.groupId);
    return { throttleTimeMs: 0, errorCode: g ? g.heartbeat(request.memberId, request.generationId) : KafkaErrors.UNKNOWN_MEMBER_ID };
  };
}

export function leaveGroupHandler(classic: ClassicGroups) {
  return async (_ctx: unknown, version: number, request: LeaveGroup.LeaveGroupRequest): Promise<LeaveGroup.LeaveGroupResponse> => {
    const g = classic.get(request.groupId);
    const ids = version >= 3 ? request.members : [{ memberId: request.memberId, groupInstanceId: null }];
    const members = ids.map((m) => ({ ...m, errorCode: g ? g.leave(m.memberId) : KafkaErrors.UNKNOWN_MEMBER_ID }));
    const errorCode = version >= 3 ? KafkaErrors.NONE : members[0]!.errorCode;
    return { throttleTimeMs: 0, errorCode, members };
  };
}

export function listGroupsHandler(s: KafkaServices, classic: ClassicGroups) {
  return async (_ctx: unknown, _version: number, request: ListGroups.ListGroupsRequest): Promise<ListGroups.ListGroupsResponse> => {
    const listed = new Map<string, ListGroups.ListedGroup>();
    for (const g of s.groups.list()) listed.set(g.group, { groupId: g.group, protocolType: 'consumer', groupState: httpState(g.state) });
    for (const g of classic.all()) listed.set(g.groupId, { groupId: g.groupId, protocolType: g.protocolType ?? 'consumer', groupState: g.state });
    const filter = new Set(request.statesFilter);
    const groups = [...listed.values()].filter((g) => filter.size === 0 || filter.has(g.groupState));
    return { throttleTimeMs: 0, errorCode: KafkaErrors.NONE, groups };
  };
}

export function describeGroupsHandler(s: KafkaServices, classic: ClassicGroups) {
  return async (_ctx: unknown, _version: number, request: DescribeGroups.DescribeGroupsRequest): Promise<DescribeGroups.DescribeGroupsResponse> => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId): DescribeGroups.DescribedGroup => {
      const base = { errorCode: KafkaErrors.NONE, groupId, authorizedOperations: -2147483648 };
      const g = classic.get(groupId);
      if (g && !g.isEmpty) {
        return {
          ...base,
          groupState: g.state,
          protocolType: g.protocolType ?? '',
          protocolData: g.protocol ?? '',
          members: [...g.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.protocols.find((p) => p.name === g.protocol)?.metadata ?? Buffer.alloc(0),
            memberAssignment: m.assignment,
          })),
        };
      }
      try {
        const d = s.groups.describe(groupId);
        return {
          ...base,
          groupState: httpState(d.state),
          protocolType: 'consumer',
          protocolData: d.assignor,
          members: d.members.map((m) => ({ memberId: m.memberId, groupInstanceId: null, clientId: m.clientId ?? '', clientHost: m.host ?? '', memberMetadata: Buffer.alloc(0), memberAssignment: Buffer.alloc(0) })),
        };
      } catch {
        return { ...base, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
      }
    }),
  });
}

/** An HTTP group's state in Kafka's words. */
function httpState(state: string): string {
  return state === 'Empty' || state === 'Stable' ? state : 'PreparingRebalance';
}
