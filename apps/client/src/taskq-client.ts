import createClient, { type Client } from "openapi-fetch";
import { parseEventStream } from "./event-stream";
import type { components, paths } from "./generated/openapi";

/** The API's shapes, as its OpenAPI document defines them. */
export type Job = components["schemas"]["Job"];
export type JobStatus = Job["status"];
export type JobList = components["schemas"]["JobList"];
export type SubmitJob = components["schemas"]["SubmitJob"];
export type Problem = components["schemas"]["Problem"];
export type ListJobsQuery = NonNullable<paths["/jobs"]["get"]["parameters"]["query"]>;

const FINISHED: readonly JobStatus[] = ["DONE", "FAILED", "CANCELLED"];

/** The server answered with an error: a problem+json body when it is taskq. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> | null,
  ) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
  }
}

/** The server could not be reached, or the connection broke. */
export class NetworkError extends Error {
  override readonly name = "NetworkError";
}

export interface TaskqClientOptions {
  /** The service's URL, e.g. http://127.0.0.1:8000. */
  baseUrl: string;
  /** One of the service's API_KEYS, sent as a bearer token. */
  apiKey?: string | undefined;
}

/**
 * A client of the taskq HTTP API. `api` is openapi-fetch over the types generated from the
 * OpenAPI document (apps/client/src/generated), so every path, parameter, body and answer is
 * checked by the compiler against the contract; the methods beside it are the common calls,
 * throwing ApiError or NetworkError instead of returning them.
 */
export class TaskqClient {
  readonly api: Client<paths>;

  constructor(private readonly options: TaskqClientOptions) {
    this.api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    });
  }

  submit(job: SubmitJob, idempotencyKey?: string): Promise<Job> {
    return this.call(() => this.api.POST("/jobs", { body: job, params: { header: idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey } } }));
  }

  get(id: string): Promise<Job> {
    return this.call(() => this.api.GET("/jobs/{id}", { params: { path: { id } } }));
  }

  list(query: ListJobsQuery = {}): Promise<JobList> {
    return this.call(() => this.api.GET("/jobs", { params: { query } }));
  }

  cancel(id: string): Promise<Job> {
    return this.call(() => this.api.POST("/jobs/{id}/cancel", { params: { path: { id } } }));
  }

  retry(id: string): Promise<Job> {
    return this.call(() => this.api.POST("/jobs/{id}/retry", { params: { path: { id } } }));
  }

  /**
   * Follows GET /jobs/{id}/events until the job finishes, calling `onState` for each state.
   * A dropped connection is resumed with Last-Event-ID (up to `maxReconnects` times in a row).
   */
  async follow(id: string, onState: (job: Job) => void, maxReconnects = 5): Promise<Job> {
    let lastId: string | undefined;
    let last: Job | null = null;
    let failures = 0;
    for (;;) {
      try {
        const stream = await this.call(() =>
          this.api.GET("/jobs/{id}/events", { params: { path: { id }, header: lastId === undefined ? {} : { "last-event-id": lastId } }, parseAs: "stream" }),
        );
        // 204: the job had finished and its last state was already seen.
        if (!stream && last) return last;
        if (stream) {
          for await (const event of parseEventStream(stream)) {
            failures = 0;
            lastId = event.id ?? lastId;
            last = JSON.parse(event.data) as Job;
            onState(last);
          }
        }
        if (last && FINISHED.includes(last.status)) return last;
        throw new NetworkError("the event stream ended before the job finished");
      } catch (error) {
        if (error instanceof ApiError || ++failures > maxReconnects) throw error instanceof ApiError || error instanceof NetworkError ? error : new NetworkError(describe(error));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** Runs one openapi-fetch call: its data, or ApiError for an error answer, or NetworkError. */
  private async call<T>(request: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request();
    } catch (error) {
      throw new NetworkError(`cannot reach ${this.options.baseUrl}: ${describe(error)}`);
    }
    if (!answer.response.ok) throw new ApiError(answer.response.status, problemOf(answer.error));
    return answer.data as T;
  }
}

/** openapi-fetch gives an error body parsed when it is JSON, else as text. */
function problemOf(body: unknown): Partial<Problem> | null {
  if (body !== null && typeof body === "object") return body as Partial<Problem>;
  return typeof body === "string" && body !== "" ? { detail: body.slice(0, 500) } : null;
}

/** fetch's errors hide the reason (ECONNREFUSED…) in `cause`. */
function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
