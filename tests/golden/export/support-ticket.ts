// flowsim export ts: scenario "support-ticket" (support-ticket.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const supportTicket = inngest.createFunction(
  {
    id: "support-ticket",
    triggers: { event: "support/ticket.created" },
    concurrency: 4,
    priority: {
      run: "event.data.severity == 'critical' ? 300 : event.data.severity == 'high' ? 120 : event.data.user_plan == 'enterprise' ? 60 : 0",
    },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("triage", async () => { /* ... */ }); // modelled: lognormal(median=2s, p99=10s)
    // await step.run("notify", async () => { /* ... */ }); // modelled: 200ms
  },
);
