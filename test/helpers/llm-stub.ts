import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake OpenAI-compatible model provider on loopback, for tests that drive a real
 * OpenClaw gateway (`api: "openai-completions"`, baseUrl = the `baseUrl` returned by start()).
 *
 * Serves:
 *   GET  /v1/models, GET /v1/models/:id
 *   POST /v1/chat/completions   (non-streaming, and SSE streaming with `stream_options.include_usage`)
 *   POST /v1/responses          (non-streaming and SSE, for providers configured with `api: "openai-responses"`)
 * Anything else answers 404 with an OpenAI-style JSON error.
 *
 * Every request is recorded in `requests`, with the Authorization header exactly as received.
 * `delayMs`, `reply`, `promptTokens` and `completionTokens` can be changed between (or during) turns.
 */

export interface LlmStubOptions {
  /** Wait this long before answering a completion request (models a slow provider). Default 0. */
  delayMs?: number;
  /** The assistant text of every completion. Default "Hello from the stub." */
  reply?: string;
  /** Reported `usage.prompt_tokens`. Default: an estimate from the request body (about 4 characters per token). */
  promptTokens?: number;
  /** Reported `usage.completion_tokens`. Default: an estimate from `reply`. */
  completionTokens?: number;
}

export interface LlmStubRequest {
  /** Request path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** The Authorization header exactly as received (e.g. `Bearer sk-...`), or undefined when absent. */
  authorization: string | undefined;
  /** `model` from the JSON body; empty string when there is none (e.g. GET requests). */
  model: string;
  /** `stream` from the JSON body (false when absent). */
  stream: boolean;
  /** The JSON body as text (what the model was sent: the conversation so far). */
  bodyText: string;
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const DEFAULT_REPLY = 'Hello from the stub.';
const MODEL_IDS_SEEN_LIMIT = 100;

export class LlmStub {
  delayMs: number;
  reply: string;
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  readonly requests: LlmStubRequest[] = [];

  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Models named in requests, so GET /v1/models lists them too. */
  readonly #modelIds = new Set<string>();
  #counter = 0;
  #baseUrl = '';

  constructor(options: LlmStubOptions = {}) {
    this.delayMs = options.delayMs ?? 0;
    this.reply = options.reply ?? DEFAULT_REPLY;
    this.promptTokens = options.promptTokens;
    this.completionTokens = options.completionTokens;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, `stub failure: ${String(err)}`, 'server_error');
        else res.destroy();
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  /** Requests to the completion endpoints only (chat completions and responses). */
  get completionRequests(): LlmStubRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/chat/completions') || r.path.endsWith('/responses'));
  }

  async start(): Promise<{ baseUrl: string }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#baseUrl = `http://127.0.0.1:${port}/v1`;
    return { baseUrl: this.#baseUrl };
  }

  /** Stops listening, cancels pending delayed replies and destroys open sockets (including keep-alive ones). */
  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
    });
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (this.#server.listening) await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const raw = await readBody(req);
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        this.#record(req, path, {});
        sendError(res, 400, 'request body is not valid JSON', 'invalid_request_error');
        return;
      }
    }
    this.#record(req, path, body);
    const method = req.method ?? 'GET';
    const model = typeof body['model'] === 'string' ? body['model'] : '';
    if (model && this.#modelIds.size < MODEL_IDS_SEEN_LIMIT) this.#modelIds.add(model);

    if (method === 'GET' && (path === '/v1/models' || path === '/models')) {
      sendJson(res, 200, { object: 'list', data: this.#models() });
      return;
    }
    const modelMatch = /^(?:\/v1)?\/models\/(.+)$/.exec(path);
    if (method === 'GET' && modelMatch?.[1] !== undefined) {
      const id = decodeURIComponent(modelMatch[1]);
      sendJson(res, 200, { id, object: 'model', created: 1_700_000_000, owned_by: 'llm-stub' });
      return;
    }
    if (method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
      if (!(await this.#delay(res))) return;
      this.#chatCompletion(res, body, raw);
      return;
    }
    if (method === 'POST' && (path === '/v1/responses' || path === '/responses')) {
      if (!(await this.#delay(res))) return;
      this.#responses(res, body, raw);
      return;
    }
    sendError(res, 404, `Unknown request URL: ${method} ${path}`, 'invalid_request_error', 'unknown_url');
  }

  #record(req: IncomingMessage, path: string, body: Record<string, unknown>): void {
    const auth = req.headers['authorization'];
    this.requests.push({
      path,
      authorization: typeof auth === 'string' ? auth : undefined,
      model: typeof body['model'] === 'string' ? body['model'] : '',
      stream: body['stream'] === true,
      bodyText: JSON.stringify(body),
    });
  }

  #models(): Array<Record<string, unknown>> {
    const ids = this.#modelIds.size > 0 ? [...this.#modelIds] : ['fake-1'];
    return ids.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'llm-stub' }));
  }

  /** Waits delayMs; resolves false when the client went away meanwhile (nothing must be written then). */
  async #delay(res: ServerResponse): Promise<boolean> {
    const ms = this.delayMs;
    if (ms <= 0) return !res.destroyed;
    await new Promise<void>((resolve) => {
      const onClose = (): void => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        res.off('close', onClose);
        resolve();
      }, ms);
      this.#timers.add(timer);
      res.once('close', onClose);
    });
    return !res.destroyed && !res.writableEnded;
  }

  #usage(raw: string, reply: string): Usage {
    const prompt = this.promptTokens ?? Math.max(1, Math.ceil(raw.length / 4));
    const completion = this.completionTokens ?? Math.max(1, Math.ceil(reply.length / 4));
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }

  #chatCompletion(res: ServerResponse, body: Record<string, unknown>, raw: string): void {
    const reply = this.reply;
    const usage = this.#usage(raw, reply);
    const id = `chatcmpl-stub-${++this.#counter}`;
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body['model'] === 'string' && body['model'] ? body['model'] : 'fake-1';

    if (body['stream'] !== true) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_stub',
        choices: [{ index: 0, message: { role: 'assistant', content: reply, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: withDetails(usage),
      });
      return;
    }

    const streamOptions = body['stream_options'];
    const includeUsage =
      streamOptions !== null && typeof streamOptions === 'object' && (streamOptions as Record<string, unknown>)['include_usage'] === true;
    const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_stub' };
    const usageField = includeUsage ? { usage: null } : {};
    startSse(res);
    writeSse(res, { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...usageField });
    for (const piece of splitText(reply)) {
      writeSse(res, { ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }], ...usageField });
    }
    writeSse(res, { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...usageField });
    if (includeUsage) writeSse(res, { ...base, choices: [], usage: withDetails(usage) });
    res.end('data: [DONE]\n\n');
  }

  #responses(res: ServerResponse, body: Record<string, unknown>, raw: string): void {
    const reply = this.reply;
    const u = this.#usage(raw, reply);
    const n = ++this.#counter;
    const id = `resp_stub_${n}`;
    const msgId = `msg_stub_${n}`;
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body['model'] === 'string' && body['model'] ? body['model'] : 'fake-1';
    const usage = {
      input_tokens: u.prompt_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: u.completion_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: u.total_tokens,
    };
    const part = { type: 'output_text', text: reply, annotations: [] };
    const item = { id: msgId, type: 'message', status: 'completed', role: 'assistant', content: [part] };
    const response = (status: string, extra: Record<string, unknown>): Record<string, unknown> => ({
      id,
      object: 'response',
      created_at: created,
      status,
      model,
      output: [],
      usage: null,
      ...extra,
    });

    if (body['stream'] !== true) {
      sendJson(res, 200, response('completed', { output: [item], output_text: reply, usage }));
      return;
    }
    startSse(res);
    let seq = 0;
    const ev = (type: string, data: Record<string, unknown>): void => {
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
    };
    ev('response.created', { response: response('in_progress', {}) });
    ev('response.in_progress', { response: response('in_progress', {}) });
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
    ev('response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0, part: { ...part, text: '' } });
    for (const piece of splitText(reply)) {
      ev('response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: piece });
    }
    ev('response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text: reply });
    ev('response.content_part.done', { item_id: msgId, output_index: 0, content_index: 0, part });
    ev('response.output_item.done', { output_index: 0, item });
    ev('response.completed', { response: response('completed', { output: [item], usage }) });
    res.end();
  }
}

function withDetails(u: Usage): Record<string, unknown> {
  return {
    ...u,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** Splits text into a few chunks at word boundaries, like a real token stream. */
function splitText(text: string): string[] {
  const pieces = text.match(/\S+\s*|\s+/g);
  return pieces && pieces.length > 0 ? pieces : [text];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string, type: string, code: string | null = null): void {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

function writeSse(res: ServerResponse, payload: unknown): void {
  res.write(`data: ${JSON.stringify(payload)}\n\n`);
}
