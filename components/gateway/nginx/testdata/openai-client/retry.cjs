// One chat completion through the gateway with the official OpenAI Node client and its own retry
// logic (maxRetries 1): run by TestTenantOpenAIClientRetriesAfter429, which has spent the tenant's
// one request of the window first, so the client must wait the 429's retry-after and try again.
// Prints the answer's id on success; exits 1 with the client's error otherwise.
// CommonJS, no top-level await: plain on node 18 (Debian bookworm's) and later.
const OpenAI = require('openai');

const client = new OpenAI({
  baseURL: process.env.GATEWAY_URL + '/v1',
  apiKey: process.env.GATEWAY_API_KEY,
  maxRetries: 1,
  timeout: 10_000,
});

client.chat.completions
  .create({ model: process.env.GATEWAY_MODEL, messages: [{ role: 'user', content: 'hello' }] })
  .then((answer) => console.log(JSON.stringify({ id: answer.id })))
  .catch((err) => {
    console.error(`openai client gave up: ${err.status ?? ''} ${err.message}`);
    process.exit(1);
  });
