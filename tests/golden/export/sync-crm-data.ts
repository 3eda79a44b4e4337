// flowsim export ts: scenario "sync-crm-data" (sync-crm-data.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const syncCrmData = inngest.createFunction(
  {
    id: "sync-crm-data",
    triggers: { event: "crm/sync.requested" },
    throttle: { limit: 10, period: "1m", burst: 5, key: "event.data.customer_id" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("fetch-records", async () => { /* ... */ }); // modelled: lognormal(median=1.5s, p99=6s), 1% of attempts fail
    // await step.run("upsert-records", async () => { /* ... */ }); // modelled: 400ms
  },
);
