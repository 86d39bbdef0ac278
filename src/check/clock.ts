// Vector clocks for happens-before between the host and every stream. Actors are small dense
// integers (0 is the host), so a clock is a plain number array: copying and joining cost one
// pass over the handful of streams a pipeline uses, cheap enough to leave checking on.

export type VectorClock = number[];

export const HOST_ACTOR = 0;

/** into := max(into, from), element-wise. */
export function joinInto(into: VectorClock, from: readonly number[]): void {
  for (let k = 0; k < from.length; k++) {
    const v = from[k]!;
    if (k >= into.length) into.push(v);
    else if (v > into[k]!) into[k] = v;
  }
}

/** True when the event stamped (actor, time) is known to have happened before `clock`'s owner. */
export function orderedBefore(actor: number, time: number, clock: readonly number[]): boolean {
  return (clock[actor] ?? 0) >= time;
}

/** Advances `actor`'s own component and returns the new time. */
export function tick(clock: VectorClock, actor: number): number {
  while (clock.length <= actor) clock.push(0);
  return ++clock[actor]!;
}
