// The module's own work over every user (docs/design.md, "Work over every
// user"): after load, the sum of what was kept before the start; every hour,
// the purge of expired registrations, then of expired kept messages. Each runs
// as a walk, a slice per timer tick (slices.ts), so the server serves what
// waits between two slices and a restart serves pushes at once.
import { Endpoints } from "./endpoints";
import { Mailbox } from "./mailbox";
import { runWalk, sliceOf, Walk } from "./slices";

export function scheduleUpkeep(
  module: Prosody.Module,
  endpoints: Endpoints,
  mailbox: Mailbox,
  sliceUsers: number,
): void {
  const budget = sliceOf(sliceUsers);
  const run = (walk: Walk): void => {
    runWalk(
      walk,
      (delay, callback) => {
        module.add_timer(delay, callback);
      },
      budget.pause,
    );
  };

  // What was kept before the start is summed into the gauges after load, not before serving.
  const counting = mailbox.count(budget);
  if (counting !== undefined) run(counting);

  let purging = false;
  /** The purge's second part: kept messages, after registrations. */
  function purgeMessages(this: void, registrations: number): void {
    const sweep = mailbox.sweep(budget, (err) => {
      purging = false;
      if (err !== undefined) module.log("warn", "Could not purge expired push messages: %s", err);
      const messages = sweep?.total() ?? 0;
      if (registrations + messages > 0) {
        module.log(
          "debug",
          "Purged %d expired push registrations, %d messages",
          registrations,
          messages,
        );
      }
    });
    if (sweep === undefined) purging = false;
    else run(sweep);
  }
  module.hourly("Purge expired push registrations and messages", () => {
    // One purge at a time: a slow one is not overtaken by the next hour's.
    if (purging) return;
    purging = true;
    const sweep = endpoints.sweep(os.time(), budget, (err) => {
      if (err !== undefined)
        module.log("warn", "Could not purge expired push registrations: %s", err);
      purgeMessages(sweep?.total() ?? 0);
    });
    if (sweep === undefined) purgeMessages(0);
    else run(sweep);
  });
}
