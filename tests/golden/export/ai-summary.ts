// flowsim export ts: scenario "ai-summary" (ai-summary.yaml), variant "base".
// Options as flowsim simulated them; Inngest TypeScript SDK v4: createFunction({ ...options, triggers }, handler).
// Handlers are skeletons: each modelled step is a comment, to replace with your code.
// Account concurrency simulated: 1000 (a plan limit, not a function option).

import { inngest } from "./client";

export const summarizeDocument = inngest.createFunction(
  {
    id: "summarize-document",
    triggers: { event: "doc/uploaded" },
    concurrency: [{ limit: 50 }, { limit: 60, key: '"openai"', scope: "account" }],
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("extract-text", async () => { /* ... */ }); // modelled: 200ms
    // await step.run("llm-summary", async () => { /* ... */ }); // modelled: exponential(mean=6s)
  },
);

export const chatReply = inngest.createFunction(
  {
    id: "chat-reply",
    triggers: { event: "chat/message.sent" },
    concurrency: [{ limit: 40 }, { limit: 60, key: '"openai"', scope: "account" }],
    retries: 4,
  },
  async ({ event, step }) => {
    // await step.run("llm-reply", async () => { /* ... */ }); // modelled: lognormal(median=1.2s, p99=5s)
  },
);
