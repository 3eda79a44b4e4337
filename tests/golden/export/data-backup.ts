// flowsim export ts: scenario "data-backup" (data-backup.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const backupDatabase = inngest.createFunction(
  {
    id: "backup-database",
    triggers: { event: "db/backup.requested" },
    singleton: { key: "event.data.db", mode: "skip" },
    retries: 2,
  },
  async ({ event, step }) => {
    // await step.run("snapshot", async () => { /* ... */ }); // modelled: lognormal(median=240s, p99=12m)
    // await step.sleep("sleep-1", "1m");
    // await step.run("upload", async () => { /* ... */ }); // modelled: exponential(mean=30s)
  },
);
