// One "server node" for the challenge race (test/integration/challenge-store.test.ts), as a separate
// Node process: it gets a list of challenges, connects the built Redis store (dist/server, the package's
// main export), says "ready", and on "go" consumes them all at once, then reports the ones it won.
// Plain JavaScript on purpose: a forked child runs it as it is, without the test's TypeScript transform.
import { redisChallengeStore } from "../../dist/server/index.js";

const store = redisChallengeStore(process.env.YZT_REDIS_URL);
let challenges = [];
process.on("message", async (message) => {
  if (message.challenges) {
    challenges = message.challenges;
    // One round trip first, so the race measures consumes, not connecting.
    await store.consume("A".repeat(32));
    process.send({ ready: true });
  } else if (message.go) {
    const outcomes = await Promise.all(challenges.map((challenge) => store.consume(challenge)));
    process.send({ won: challenges.filter((_, index) => outcomes[index]) });
    await store.close();
    process.disconnect();
  }
});
