// flowsim export ts: scenario "noisy-neighbour-key-queues" (noisy-neighbour-key-queues.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const sync = inngest.createFunction(
  {
    id: "sync",
    triggers: { event: "tenant/sync.requested" },
    concurrency: [{ limit: 1, key: "event.data.tenant" }, { limit: 100 }],
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("sync", async () => { /* ... */ }); // modelled: lognormal(median=800ms, p99=4s)
  },
);
