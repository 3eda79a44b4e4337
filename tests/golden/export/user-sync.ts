// flowsim export ts: scenario "user-sync" (user-sync.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const userSync = inngest.createFunction(
  {
    id: "user-sync",
    triggers: { event: "user/profile.updated", if: "event.data.active == true" },
    concurrency: [{ limit: 1, key: "event.data.user_id" }],
    timeouts: { start: "10m", finish: "1h" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("fetch", async () => { /* ... */ }); // modelled: lognormal(median=800ms, p99=5s), 1% of attempts fail
    // await step.sleep("sleep-1", "30s");
    // await step.waitForEvent("wait-2", { event: "user/profile.confirmed", timeout: "1h", match: "data.user_id" });
    // await step.run("save", async () => { /* ... */ }); // modelled: 50ms
  },
);
