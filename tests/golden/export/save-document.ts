// flowsim export ts: scenario "save-document" (save-document.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const saveDocument = inngest.createFunction(
  {
    id: "save-document",
    triggers: { event: "document/edited" },
    debounce: { period: "5m", key: "event.data.document_id", timeout: "30m" },
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("load-document", async () => { /* ... */ }); // modelled: lognormal(median=300ms, p99=2s)
    // await step.run("save-snapshot", async () => { /* ... */ }); // modelled: lognormal(median=1s, p99=5s), 1% of attempts fail
  },
);
