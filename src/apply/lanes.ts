// How a plan's steps divide into lanes that do not depend on one another: module loads (host-wide)
// first, then one lane per IOMMU group. Lanes run one after another today; running the group
// lanes concurrently is a later speed-up. Before that, one cross-group dependency needs a barrier:
// the VFs a `set-numvfs` creates live in other groups than their PF.

import type { Step } from '../domain/types.js';

export interface Indexed {
  /** Position in plan.steps: what progress output and the journal refer to. */
  index: number;
  step: Step;
}

export function lanes(steps: Step[]): Indexed[][] {
  const byLane = new Map<string, Indexed[]>();
  byLane.set('host', []);
  steps.forEach((step, index) => {
    const lane = step.kind === 'load-module' ? 'host' : `group:${step.group}`;
    if (!byLane.has(lane)) byLane.set(lane, []);
    byLane.get(lane)!.push({ index, step });
  });
  const result = [...byLane.values()].filter((lane) => lane.length > 0);
  // Run one after another, the lanes must reproduce the plan's order exactly; a plan whose groups
  // interleave runs as a single lane, in plan order.
  const inOrder = result.flat().every((s, i) => s.index === i);
  return inOrder ? result : [steps.map((step, index) => ({ index, step }))];
}
