// flowsim export ts: scenario "replay-azure-functions" (replay-azure-functions.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v3: createFunction(options, trigger, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const perApp = inngest.createFunction(
  {
    id: "per-app",
    concurrency: [{ limit: 4, key: "event.data.app" }],
    retries: 0,
  },
  { event: "azure/invocation" },
  async ({ event, step }) => {
    // await step.run("invoke", async () => { /* ... */ }); // modelled: 250ms
  },
);

export const unlimited = inngest.createFunction(
  {
    id: "unlimited",
    retries: 0,
  },
  { event: "azure/invocation" },
  async ({ event, step }) => {
    // await step.run("invoke", async () => { /* ... */ }); // modelled: 250ms
  },
);
