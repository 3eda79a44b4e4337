// flowsim export ts: scenario "process-images" (process-images.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const processImages = inngest.createFunction(
  {
    id: "process-images",
    triggers: { event: "image/uploaded" },
    concurrency: 5,
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("resize", async () => { /* ... */ }); // modelled: lognormal(median=800ms, p99=3s), 1% of attempts fail
    // await step.run("upload-thumbnail", async () => { /* ... */ }); // modelled: 300ms
  },
);
