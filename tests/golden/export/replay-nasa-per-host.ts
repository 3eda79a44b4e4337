// flowsim export ts: scenario "replay-nasa-per-host" (replay-nasa-per-host.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const serve = inngest.createFunction(
  {
    id: "serve",
    triggers: { event: "nasa/request" },
    concurrency: [{ limit: 1, key: "event.data.host" }],
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("serve", async () => { /* ... */ }); // modelled: 200ms
  },
);

export const sessionSummary = inngest.createFunction(
  {
    id: "session-summary",
    triggers: { event: "nasa/request" },
    debounce: { period: "1m", key: "event.data.host" },
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("summarise", async () => { /* ... */ }); // modelled: 500ms
  },
);
