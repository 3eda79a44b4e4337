// flowsim export ts: scenario "ai-image-processing" (ai-image-processing.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const aiImageProcessing = inngest.createFunction(
  {
    id: "ai-image-processing",
    triggers: { event: "image/generate.requested" },
    concurrency: [{ limit: 3, key: "event.data.user_id" }],
    throttle: { limit: 50, period: "1m", key: '"gpu-cluster"' },
    priority: { run: "event.data.plan == 'pro' ? 60 : 0" },
    retries: 3,
  },
  async ({ event, step }) => {
    // await step.run("generate", async () => { /* ... */ }); // modelled: lognormal(median=8s, p99=40s), 2% of attempts fail
    // await step.run("upload", async () => { /* ... */ }); // modelled: 500ms
  },
);
