// flowsim export ts: scenario "process-order" (process-order.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const processOrder = inngest.createFunction(
  {
    id: "process-order",
    triggers: { event: "order/placed" },
    concurrency: 3,
    priority: { run: "event.data.user_tier == 'vip' ? 120 : 0" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("reserve-stock", async () => { /* ... */ }); // modelled: 300ms
    // await step.run("charge-payment", async () => { /* ... */ }); // modelled: lognormal(median=800ms, p99=3s), 0.5% of attempts fail
  },
);
