// flowsim export ts: scenario "replay-llm-throttle-vs-ratelimit" (replay-llm-throttle-vs-ratelimit.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const throttled = inngest.createFunction(
  {
    id: "throttled",
    triggers: { event: "llm/request" },
    concurrency: 32,
    throttle: { limit: 6, period: "1s", burst: 6 },
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("generate", async () => { /* ... */ }); // modelled: 500ms
  },
);

export const rateLimited = inngest.createFunction(
  {
    id: "rate-limited",
    triggers: { event: "llm/request" },
    concurrency: 32,
    rateLimit: { limit: 360, period: "1m" },
    retries: 0,
  },
  async ({ event, step }) => {
    // await step.run("generate", async () => { /* ... */ }); // modelled: 500ms
  },
);
