import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions, type Assignment, type AssignorName, type MemberSubscription } from '../../src/groups/assignors.js';

const counts = (entries: [string, number][]) => new Map(entries);
const flat = (a: Assignment) => [...a].flatMap(([m, ps]) => ps.map((p) => `${p.topic}-${p.partition}:${m}`)).sort();
const owners = (a: Assignment) => new Map([...a].flatMap(([m, ps]) => ps.map((p) => [`${p.topic}-${p.partition}`, m] as const)));

describe('assignors', () => {
  it('range gives contiguous runs, roundrobin deals one by one', () => {
    const members = ['c', 'a', 'b'].map((memberId) => ({ memberId, topics: ['t'] }));
    const range = assignPartitions('range', members, counts([['t', 7]]));
    expect([...range].map(([m, ps]) => [m, ps.map((p) => p.partition)])).toEqual([['a', [0, 1, 2]], ['b', [3, 4]], ['c', [5, 6]]]);
    const rr = assignPartitions('roundrobin', members, counts([['t', 7]]));
    expect([...rr].map(([m, ps]) => [m, ps.map((p) => p.partition)])).toEqual([['a', [0, 3, 6]], ['b', [1, 4]], ['c', [2, 5]]]);
  });

  it('gives extra members nothing and respects different subscriptions', () => {
    const members: MemberSubscription[] = [
      { memberId: 'm1', topics: ['a', 'b'] },
      { memberId: 'm2', topics: ['a'] },
      { memberId: 'm3', topics: ['a'] },
      { memberId: 'm4', topics: ['c'] },
    ];
    const result = assignPartitions('range', members, counts([['a', 2], ['b', 3], ['c', 1]]));
    expect(result.get('m1')!.filter((p) => p.topic === 'b')).toHaveLength(3);
    expect(result.get('m3')).toEqual([]);
    expect(result.get('m4')).toEqual([{ topic: 'c', partition: 0 }]);
  });

  const scenario = fc.record({
    assignor: fc.constantFrom<AssignorName>('range', 'roundrobin'),
    members: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,4}$/), { minLength: 1, maxLength: 9 }),
    partitions: fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 3 }),
  });

  it('assigns every partition exactly once, balanced within one per topic, deterministically (property)', () => {
    fc.assert(
      fc.property(scenario, ({ assignor, members, partitions }) => {
        const topics = partitions.map((n, i) => [`t${i}`, n] as [string, number]);
        const subs = members.map((memberId) => ({ memberId, topics: topics.map(([t]) => t) }));
        const result = assignPartitions(assignor, subs, counts(topics));
        const all = [...result.values()].flat();
        expect(all.length).toBe(partitions.reduce((a, b) => a + b, 0));
        expect(new Set(all.map((p) => `${p.topic}-${p.partition}`)).size).toBe(all.length);
        for (const [topic] of topics) {
          const sizes = [...result.values()].map((ps) => ps.filter((p) => p.topic === topic).length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        }
        expect(flat(assignPartitions(assignor, [...subs].reverse(), counts(topics)))).toEqual(flat(result));
      }),
      { numRuns: 300 },
    );
  });

  it('is sticky: one member joining or leaving moves only the partitions it must (property)', () => {
    fc.assert(
      fc.property(scenario, fc.stringMatching(/^[A-Z]{1,3}$/), fc.nat(), (s, newcomer, pick) => {
        const topics = s.partitions.map((n, i) => [`t${i}`, n] as [string, number]);
        const sub = (memberId: string) => ({ memberId, topics: topics.map(([t]) => t) });
        const before = assignPartitions(s.assignor, s.members.map(sub), counts(topics));
        const total = s.partitions.reduce((a, b) => a + b, 0);
        // Leave: only the leaver's partitions move.
        const leaver = s.members[pick % s.members.length]!;
        const rest = s.members.filter((m) => m !== leaver);
        if (rest.length > 0) {
          const after = assignPartitions(s.assignor, rest.map(sub), counts(topics), before);
          const moved = [...owners(after)].filter(([p, m]) => owners(before).get(p) !== m).length;
          expect(moved).toBe(before.get(leaver)!.length);
        }
        // Join: at most what the newcomer must take per topic (its share) moves.
        const joined = assignPartitions(s.assignor, [...s.members, newcomer].map(sub), counts(topics), before);
        const moved = [...owners(joined)].filter(([p, m]) => owners(before).get(p) !== m).length;
        expect(moved).toBe(joined.get(newcomer)!.length);
        expect(moved).toBeLessThanOrEqual(Math.ceil(total / (s.members.length + 1)) + topics.length);
      }),
      { numRuns: 300 },
    );
  });
});
