// flowsim export ts: scenario "compare-rate-limit-algorithms" (compare-rate-limit-algorithms.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const send = inngest.createFunction(
  {
    id: "send",
    triggers: { event: "send" },
    rateLimit: { limit: 10, period: "1m", key: "event.data.user" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("call-api", async () => { /* ... */ }); // modelled: 200ms
  },
);
