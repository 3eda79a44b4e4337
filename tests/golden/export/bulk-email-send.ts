// flowsim export ts: scenario "bulk-email-send" (bulk-email-send.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const sendBulkEmail = inngest.createFunction(
  {
    id: "send-bulk-email",
    triggers: { event: "email/send.requested" },
    concurrency: 5,
    batchEvents: {
      maxSize: 100,
      timeout: "30s",
      key: "event.data.campaign_id",
      if: "event.data.kind == 'marketing'",
    },
    retries: 3,
  },
  async ({ events, step }) => {
    // await step.run("render-templates", async () => { /* ... */ }); // modelled: lognormal(median=1.5s, p99=6s)
    // await step.run("send-via-provider", async () => { /* ... */ }); // modelled: lognormal(median=800ms, p99=4s), 2% of attempts fail
  },
);
