// flowsim export ts: scenario "realtime-sync" (realtime-sync.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const syncDocument = inngest.createFunction(
  {
    id: "sync-document",
    triggers: { event: "doc/edited" },
    concurrency: 10,
    singleton: { key: "event.data.user_id", mode: "cancel" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("fetch", async () => { /* ... */ }); // modelled: 300ms
    // await step.run("push", async () => { /* ... */ }); // modelled: lognormal(median=1s, p99=4s)
  },
);
