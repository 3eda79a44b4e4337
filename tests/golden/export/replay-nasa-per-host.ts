// flowsim export ts: scenario "replay-nasa-per-host" (replay-nasa-per-host.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v3: createFunction(options, trigger, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const serve = inngest.createFunction(
  {
    id: "serve",
    concurrency: [{ limit: 1, key: "event.data.host" }],
    retries: 0,
  },
  { event: "nasa/request" },
  async ({ event, step }) => {
    // await step.run("serve", async () => { /* ... */ }); // modelled: 200ms
  },
);

export const sessionSummary = inngest.createFunction(
  {
    id: "session-summary",
    debounce: { period: "1m", key: "event.data.host" },
    retries: 0,
  },
  { event: "nasa/request" },
  async ({ event, step }) => {
    // await step.run("summarise", async () => { /* ... */ }); // modelled: 500ms
  },
);
