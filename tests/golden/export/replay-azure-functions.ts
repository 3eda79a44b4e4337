// flowsim export ts: scenario "replay-azure-functions" (replay-azure-functions.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const perApp = inngest.createFunction(
  {
    id: "per-app",
    triggers: { event: "azure/invocation" },
    concurrency: [{ limit: 4, key: "event.data.app" }],
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("invoke", async () => { /* ... */ }); // modelled: 250ms
  },
);

export const unlimited = inngest.createFunction(
  {
    id: "unlimited",
    triggers: { event: "azure/invocation" },
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("invoke", async () => { /* ... */ }); // modelled: 250ms
  },
);
