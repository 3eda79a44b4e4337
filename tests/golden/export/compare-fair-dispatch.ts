// flowsim export ts: scenario "compare-fair-dispatch" (compare-fair-dispatch.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const tenantWork = inngest.createFunction(
  {
    id: "tenant-work",
    triggers: { event: "job" },
    concurrency: [{ limit: 2, key: "event.data.user" }, { limit: 10 }],
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("work", async () => { /* ... */ }); // modelled: exponential(mean=1.5s)
  },
);
