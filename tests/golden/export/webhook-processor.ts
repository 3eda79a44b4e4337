// flowsim export ts: scenario "webhook-processor" (webhook-processor.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const processWebhook = inngest.createFunction(
  {
    id: "process-webhook",
    triggers: { event: "webhook/received" },
    rateLimit: { limit: 1, period: "4h", key: "event.data.webhook_id" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("fetch-payload", async () => { /* ... */ }); // modelled: lognormal(median=300ms, p99=2s)
    // await step.run("apply-changes", async () => { /* ... */ }); // modelled: 1s
  },
);
